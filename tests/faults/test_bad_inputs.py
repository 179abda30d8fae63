"""Bad inputs, as a new user types them: each is refused before any stage runs, in a line that names the
setting or the file, never with a traceback and never by quoting a key. Refused either when Hydra composes
the config (the schema: types, closed sets) or by the preflight (msm.stages.checks: everything else)."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from msm.config import register_configs
from msm.paths import CONF_DIR
from msm.stages import checks
from tests.faults.harness import TALLY

register_configs()
KEY = "sk-badinput0123456789abcdefXYZ"


def _files(tmp: str) -> dict[str, str]:
    """Spec files that are wrong in different ways, written on demand."""
    from pathlib import Path

    root = Path(tmp)
    root.mkdir(parents=True, exist_ok=True)
    (root / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (root / "latin1.md").write_bytes("---\nid: caf\xe9\n---\n".encode("latin-1"))
    (root / "nofront.md").write_text("# just a heading\n")
    (root / "unclosed.md").write_text("---\nid: x\n")
    (root / "badyaml.md").write_text("---\nid: [unclosed\n---\nbody\n")
    (root / "a_file").write_text("")
    return {k: str(root / k) for k in ("binary.md", "latin1.md", "nofront.md", "unclosed.md", "badyaml.md", "a_file")}


# (overrides, what the message must name); {name} is replaced by a path from _files
CASES = [
    (["seed=-1"], "seed=-1"), (["data.seed=-3"], "data.seed"), (["threads=-1"], "threads"), (["threads=0"], "threads"),
    (["midtrain.batch_size=0"], "midtrain.batch_size"), (["midtrain.grad_accum=0"], "midtrain.grad_accum"),
    (["midtrain.lr=0"], "midtrain.lr"), (["midtrain.lr=-1e-4"], "midtrain.lr"), (["midtrain.epochs=0"], "midtrain.epochs"),
    (["midtrain.save_steps=0"], "midtrain.save_steps"), (["midtrain.logging_steps=0"], "midtrain.logging_steps"),
    (["midtrain.pad_to_multiple_of=0"], "midtrain.pad_to_multiple_of"), (["aft.batch_size=-2"], "aft.batch_size"),
    (["aft.lr=-1"], "aft.lr"), (["eval.max_items=0"], "eval.max_items"), (["eval.batch_size=0"], "eval.batch_size"),
    (["aft_scale.rows=100000"], "aft_scale.rows"), (["aft_scale.rows=0"], "aft_scale.rows"),
    (["+midtrain.lrr=1"], "midtrain.lrr"), (["+foo=1"], "foo"), (["+eval.maxitems=3"], "eval.maxitems"),
    (["spec=file"], "spec.path"), (["spec=file", "spec.path=/nonexistent/spec.md"], "/nonexistent/spec.md"),
    (["spec=file", "spec.path={binary.md}"], "binary.md"), (["spec=file", "spec.path={latin1.md}"], "UTF-8"),
    (["spec=file", "spec.path={nofront.md}"], "no rules found"), (["spec=file", "spec.path={unclosed.md}"], "front matter"),
    (["spec=file", "spec.path={badyaml.md}"], "YAML"),
    (["paths.store=/proc/no/store"], "paths.store"), (["paths.store={a_file}/store"], "paths.store"),
    (["generator=openai", f"generator.api_key_env={KEY}"], "generator.api_key_env"),
    (["generator=anthropic"], "ANTHROPIC_API_KEY"), (["judge=anthropic", "experiment=agentic_smoke"], "ANTHROPIC_API_KEY"),
    (["stages=[eval]"], "stages"), (["stages=[]"], "stages"),
    (["midtrain.method=lorra"], "method"), (["seed=abc"], "seed"), (["model=gpt5"], "model"),
    (["eval.kind=vibes"], "kind"), (["aft_scale=lots"], "aft_scale"), (["log_level=loud"], "log_level"),
]


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("overrides,names", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_bad_input_is_refused_naming_it(overrides, names, tmp_path):
    files = _files(str(tmp_path / "files"))

    def fill(text: str) -> str:
        for name, path in files.items():
            text = text.replace("{" + name + "}", path)
        return text

    overrides, names = ["model=tiny", *map(fill, overrides)], fill(names)
    TALLY.bad_inputs += 1
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=overrides)
    except Exception as e:  # refused by the schema when composing: Hydra's own message names the key
        message = str(e)
    else:
        found = checks.problems(cfg)
        assert found, f"{overrides} was accepted"
        message = "\n".join(found)
    assert names in message, message
    assert KEY not in message
