"""Whole-pipeline timings: a job or a sweep on an empty store, then the same again on the store it filled.

    python bench/pipeline.py                                          # the embedded default (python train.py)
    python bench/pipeline.py -m spec=rules,value_aug,rule_aug seed=0-3 model=tiny    # a sweep and its rerun

Runs ``train.py`` with the given arguments twice, as a user would (a subprocess each), on a fresh store,
and reports from the jobs' own records (``artifacts.json``): wall time of each run, stage builds and
reuses per stage, the wall time of each stage's builds, LLM calls made, and peak memory. The rerun's wall
time against the first run's is the figure for "how much a sweep reuses instead of recomputing".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import REPO, write_report


def run(args: list[str], store: Path, out: Path) -> float:
    where = "hydra.sweep.dir" if "-m" in args else "hydra.run.dir"
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / "train.py"), *args, f"paths.store={store}", f"{where}={out}"],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"train.py failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def stages(out: Path) -> dict:
    """Per stage: builds, reuses, build seconds, LLM calls and peak memory, over every job of the run."""
    table: dict[str, dict] = defaultdict(lambda: {"built": 0, "reused": 0, "build_s": 0.0, "llm_calls": 0, "peak_gb": 0.0})
    for path in sorted(out.rglob("artifacts.json")):
        for a in json.loads(path.read_text()):
            row = table[a["stage"]]
            row["built" if a["built"] else "reused"] += 1
            if a["built"]:
                row["build_s"] += a.get("seconds") or 0.0
                row["llm_calls"] += (a.get("llm_usage") or {}).get("calls", 0)
            row["peak_gb"] = max(row["peak_gb"], (a.get("peak_rss_mb") or 0) / 1024)
    return dict(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write the results as JSON here")
    ns, train_args = parser.parse_known_args()  # everything else goes to train.py as it is (overrides, -m)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        first = run(train_args, root / "store", root / "first")
        again = run(train_args, root / "store", root / "again")
        rows = {"first": stages(root / "first"), "again": stages(root / "again")}
    print(f"python train.py {' '.join(train_args)}: first run {first:,.1f} s on an empty store, the same again "
          f"{again:,.1f} s ({again / first:.1%} of the first)\n")
    print("| stage | built | reused | build wall s (sum) | LLM calls | peak GB | rerun: built | rerun: reused |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for stage, r in rows["first"].items():
        a = rows["again"].get(stage, {"built": 0, "reused": 0})
        print(f"| {stage} | {r['built']} | {r['reused']} | {r['build_s']:,.1f} | {r['llm_calls']} | {r['peak_gb']:.2f} "
              f"| {a['built']} | {a['reused']} |")
    write_report(ns.out, first_s=first, again_s=again, stages=rows)


if __name__ == "__main__":
    main()
