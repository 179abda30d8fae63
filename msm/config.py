"""The typed schema of every config group, registered with Hydra's ConfigStore.

``conf/train.yaml`` lists ``train_schema`` first in its defaults, so every YAML file and every
command-line override is merged onto these dataclasses: a misspelt key or a value of the wrong
type fails at composition with Hydra's own message (for example ``Key 'lr' not in 'TrainStage'``
or ``Value 'abc' of type 'str' could not be converted to Integer``) before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

STAGES = ("data", "midtrain", "aft", "eval")
"""The order of a job's stages; ``stages=`` must be a prefix of it (pipeline.py enforces the order)."""


@dataclass
class SpecConfig:
    name: str = MISSING  # short name recorded in metrics (the spec file's id for spec=file)
    path: str = MISSING  # a .md file; relative paths resolve against the launch folder, then the repo


@dataclass
class ArchConfig:
    """Shape of the random-init test model (``model.source=tiny`` only)."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 128
    vocab_size: int = 1024


@dataclass
class ModelConfig:
    name: str = MISSING
    source: str = "hub"  # tiny | smollm2_gguf | hub
    name_or_path: Optional[str] = None
    chat_template: Optional[str] = None
    dtype: str = "auto"
    max_seq_len: int = 1024
    arch: ArchConfig = field(default_factory=ArchConfig)


@dataclass
class LLMConfig:
    """An LLM backend (msm.llm): the ``generator`` that writes synthetic data, or the ``judge`` that grades.

    ``backend`` is openai (any OpenAI-compatible server) | anthropic | hf (a local model), or
    ``offline`` (generator: templates, no LLM) / ``none`` (judge: no LLM judge).
    """

    name: str = "offline"
    backend: str = "offline"
    model: Optional[str] = None
    base_url: Optional[str] = None
    api_key_env: Optional[str] = None  # the environment variable holding the key; keys never go in configs
    temperature: float = 0.9
    max_concurrency: int = 8
    rpm: Optional[float] = None  # requests per minute
    tpm: Optional[float] = None  # tokens per minute
    max_retries: int = 6
    timeout_s: float = 120.0
    price_in_per_mtok: float = 0.0  # USD per million input tokens, for the cost report
    price_out_per_mtok: float = 0.0
    use_batches: bool = False  # anthropic: Message Batches API (half price, slower)
    batch_size: int = 8  # hf: prompts per generate() call
    dtype: str = "auto"  # hf
    max_tokens: int = 1024  # judge: room for its reasoning and verdict


@dataclass
class DocgenConfig:
    """The spec -> documents pipeline (msm/data/docgen.py). Fan-out per level, then a target."""

    target_documents: int = 13000
    target_tokens: Optional[int] = None  # also stop once the corpus holds this many tokens (estimated)
    n_domains: int = 40
    subdomains_per_domain: int = 6
    assertions_per_subdomain: int = 5
    doc_types_per_assertion: int = 5
    ideas_per_type: int = 3
    max_tokens: int = 6000  # per document; a document cut off here is regenerated or dropped, never kept
    revise: bool = False  # a critique-and-revise pass over every document
    dedup_threshold: Optional[float] = 0.9  # MiniLM cosine above which a document is a near-duplicate
    max_rounds: int = 3  # top-up rounds when drops leave a level short of its target


@dataclass
class AftgenConfig:
    """The spec -> AFT demonstration pool pipeline (msm/data/aftgen.py)."""

    target_rows: int = 10000
    n_domains: int = 50
    questions_per_type: int = 40  # per domain and question type (6 types)
    style: str = "value"  # value (reasons from the spec's values) | rules (cites rule ids)
    dedup_threshold: float = 0.91
    filter: bool = True  # an LLM include/exclude pass over every response
    max_tokens: int = 2048
    max_rounds: int = 3
    mix_path: Optional[str] = None  # a JSONL of {"messages": [...]} instruction-tuning rows to mix in
    mix_rows: int = 0


@dataclass
class DatagenConfig:
    name: str = "paper"
    documents: DocgenConfig = field(default_factory=DocgenConfig)
    aft: AftgenConfig = field(default_factory=AftgenConfig)
    preview: bool = False  # print a few samples and the estimated cost, then stop before spending


@dataclass
class LoraConfig:
    r: int = 64
    alpha: int = 128
    dropout: float = 0.0
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class TrainStage:
    """Settings shared by midtraining and AFT. Defaults are the paper's LoRA recipe (PAPER.md)."""

    name: str = MISSING
    method: str = "lora"  # none | lora | full
    lr: float = 1e-4
    scheduler: str = "cosine"
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    epochs: float = 1.0
    max_steps: int = -1  # > 0 caps the number of optimizer steps (demos, smoke tests)
    batch_size: int = 8  # packed rows (of up to max_seq_len tokens) per optimizer step, before accumulation
    grad_accum: int = 1
    max_seq_len: Optional[int] = None  # null = the model's max_seq_len
    precision: str = "auto"  # auto (bf16 autocast where the hardware runs it natively) | bf16 | fp32
    save_steps: int = 100  # checkpoint cadence: a rerun after a crash or preemption resumes from here
    logging_steps: int = 5
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass
class MidtrainConfig(TrainStage):
    max_documents: Optional[int] = None  # train on the first N documents only (demos)


@dataclass
class AftConfig(TrainStage):
    cot: bool = True  # keep the <think> block (cot) or strip it (no_cot)
    data: str = "cheese"  # cheese (the fixed cheese chats) | generated (from the spec by the generator)


@dataclass
class VllmConfig:
    """vLLM's offline engine for ``eval.sampler=vllm`` (GPU); run in its own interpreter, see msm/evals/vllm_worker.py."""

    python: Optional[str] = None  # an interpreter with vllm installed; null = this one
    gpu_memory_utilization: float = 0.9
    tensor_parallel_size: int = 1
    max_model_len: Optional[int] = None  # null = the model's own context length
    enforce_eager: bool = False  # skip CUDA graph capture: slower sampling, faster start


@dataclass
class EvalConfig:
    name: str = "cheese"  # cheese | agentic
    # cheese: log-probability forced choice
    families: list[str] = field(default_factory=lambda: ["item_comparison", "political_opinion"])
    max_items: Optional[int] = None  # evaluate a fixed subset spread over domains (demos); null = all
    # agentic: sampled responses to scenario conditions, graded by the judge
    grid: str = "paper"  # a named condition grid (msm/evals/agentic/scenarios/grids.yaml)
    samples_per_condition: Optional[int] = None  # null = the grid's own advice
    temperature: Optional[float] = None  # null = the grid's advice (0.7 for the paper grid)
    max_new_tokens: Optional[int] = None  # null = the grid's advice (4,096 for the paper grid)
    sampler: str = "hf"  # hf (the trained model itself, batched) | openai (a served model: sampler_model at sampler_base_url) | vllm (offline engine, GPU)
    sampler_model: Optional[str] = None
    sampler_base_url: Optional[str] = None
    vllm: VllmConfig = field(default_factory=VllmConfig)
    policy_misuse: bool = True  # also judge the scratchpad for policy misuse
    contamination_n: int = 8  # n-gram size for the training-data contamination report
    batch_size: int = 16
    precision: str = "auto"  # auto (bf16 autocast where the hardware runs it natively) | bf16 | fp32
    include_base: bool = True  # also score the untrained model: every trained arm is read against it


@dataclass
class AftScaleConfig:
    name: str = MISSING
    rows: Optional[int] = None  # AFT rows a job trains on; null = the whole pool


@dataclass
class LoggerConfig:
    name: str = "wandb"
    mode: str = "offline"  # offline | online | disabled
    project: str = "msm"
    entity: Optional[str] = None
    group: Optional[str] = None  # null = the sweep folder's name


@dataclass
class DataConfig:
    seed: int = 0  # the data seed: fixed across training seeds, so seeds of an arm share their data


@dataclass
class PathsConfig:
    store: str = MISSING


@dataclass
class TrainConfig:
    spec: SpecConfig = field(default_factory=SpecConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    generator: LLMConfig = field(default_factory=LLMConfig)
    datagen: DatagenConfig = field(default_factory=DatagenConfig)
    judge: LLMConfig = field(default_factory=lambda: LLMConfig(name="none", backend="none", temperature=0.0))
    midtrain: MidtrainConfig = field(default_factory=MidtrainConfig)
    aft: AftConfig = field(default_factory=AftConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    aft_scale: AftScaleConfig = field(default_factory=AftScaleConfig)
    seed: int = 0  # the training seed: LoRA init, data order, eval subsampling
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    threads: Optional[int] = None  # torch CPU threads per job (null = torch's default)
    experiment: Optional[str] = None  # name of the experiment preset, recorded in metrics
    extra: dict[str, Any] = field(default_factory=dict)


def register_configs() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
