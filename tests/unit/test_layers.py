"""The import contracts in pyproject.toml hold, and they would catch an import up the layers or a circle.

``lint-imports`` (import-linter) reads ``[tool.importlinter]``: the layers of docs/contributing.md, and no
cycle between sibling modules or packages. ``make test`` runs it; these tests also show the contracts
can fail, on a copy of the tree with one bad import added.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (pip install -e .[dev])")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml")], cwd=root, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)


def test_the_tree_keeps_every_contract():
    out = _lint(REPO)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("msm/llm/types.py", "from msm import stages  # noqa", "msm.llm is not allowed to import msm.stages"),
    ("msm/models.py", "from msm.train import loop  # noqa", "msm.models is not allowed to import msm.train"),
    ("msm/data/aftgen_steps.py", "from msm.data import aftgen  # noqa", "No cycles are allowed in msm.data"),
])
def test_an_import_up_the_layers_or_a_circle_breaks_a_contract(tmp_path, module, line, broken):
    for part in ("msm", "analysis"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a") as f:
        f.write(f"\n{line}\n")
    out = _lint(tmp_path)
    assert out.returncode != 0 and broken in out.stdout, out.stdout[-3000:]
