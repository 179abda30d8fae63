"""Helpers to run ``train.py`` as a user would: a subprocess with Hydra overrides."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Small but real: the tiny model trains on a 40-document corpus and 32 AFT rows, then is scored on
# 120 eval items. Every stage runs; only the sizes are cut.
TINY = ["model=tiny", "datagen.documents.target_documents=40", "aft_scale.rows=32", "eval.max_items=120", "logger=wandb"]


def run_train(args, cwd=REPO, env=None, timeout=900):
    full_env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=timeout,
    )


def job_dirs(sweep: Path) -> list[Path]:
    return sorted((p.parent for p in sweep.rglob("metrics.json")), key=lambda p: int(p.name))


def read_json(path: Path):
    return json.loads(path.read_text())

