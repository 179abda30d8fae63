"""No key leaves the process: canaries placed in the environment and in config fields never appear in any
file a job writes (its folder, ``.hydra/``, the sweep's ``multirun.yaml``, the W&B run folder, the store),
on success and on failure."""

import json
from pathlib import Path

import pytest

from .conftest import TINY, run_train

pytestmark = pytest.mark.slow

ENV_CANARY = "canary-Zx81-in-the-environment"  # no key shape: caught because its variable's name says "key"
SHAPED_CANARY = "sk-canaryFIELD0123456789abcdefXYZ"  # in no variable: caught by its shape


def leaks(root: Path) -> list[str]:
    """Every file under ``root`` holding a canary, read as bytes (W&B's .wandb files are binary)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {c}" for c in (ENV_CANARY, SHAPED_CANARY) if c.encode() in data]
    return found


def _run(args, tmp_path):
    env = {"OPENAI_API_KEY": ENV_CANARY, "MSM_EXTRA_TOKEN": SHAPED_CANARY[::-1]}
    return run_train([*args, f"paths.store={tmp_path / 'store'}"], env=env)


def test_no_canary_in_any_file_of_a_successful_sweep(tmp_path):
    fields = {"summary.note": ENV_CANARY, "logger.group": SHAPED_CANARY, "generator.model": SHAPED_CANARY,
              "judge.model": ENV_CANARY, "eval.sampler_model": SHAPED_CANARY}
    out = _run(["-m", *TINY, *[f"{k}={v}" for k, v in fields.items()], f"hydra.sweep.dir={tmp_path / 'sweep'}"],
               tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert list((tmp_path / "sweep").glob("*/wandb/offline-run-*")), "the W&B run folder is part of what is checked"
    assert (tmp_path / "sweep" / "multirun.yaml").is_file() and list((tmp_path / "sweep").glob("*/.hydra/overrides.yaml"))
    assert "<redacted>" in (tmp_path / "sweep" / "0" / ".hydra" / "overrides.yaml").read_text()
    assert leaks(tmp_path) == []
    assert ENV_CANARY not in out.stdout + out.stderr and SHAPED_CANARY not in out.stdout + out.stderr
    origin = json.loads((tmp_path / "sweep" / "0" / "provenance.json").read_text())  # recorded, and redacted too
    assert origin["git"]["commit"] and origin["config"]["summary"]["note"] == "<redacted>"


@pytest.mark.parametrize("case", ["key_in_key_env", "missing_spec_file"])
def test_no_canary_in_any_file_of_a_failed_job(tmp_path, case):
    args = {"key_in_key_env": ["generator=openai", f"generator.api_key_env={SHAPED_CANARY}"],  # refused at preflight
            "missing_spec_file": ["spec=file", f"spec.path={tmp_path}/{ENV_CANARY}.md"]}[case]  # named in the error
    out = _run([*TINY, *args, f"hydra.run.dir={tmp_path / 'job'}"], tmp_path)
    assert out.returncode == 1
    assert "error:" in out.stderr and "Traceback" not in out.stderr
    assert (tmp_path / "job" / "status.json").is_file() or case == "key_in_key_env"
    assert leaks(tmp_path) == []
    assert ENV_CANARY not in out.stderr and SHAPED_CANARY not in out.stderr
