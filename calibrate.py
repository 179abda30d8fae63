"""Measure how well an LLM judge agrees with the rubrics, on hand-labelled outputs, before trusting it.

    python calibrate.py judge=anthropic judge.model=claude-sonnet-4-5 --out judge_calibration.json
    python calibrate.py judge=openai judge.base_url=http://localhost:8000/v1 judge.model=Qwen/Qwen3-32B

Arguments are Hydra overrides of ``conf/train.yaml`` (the judge group; ``paths.store`` holds the response
cache, so a rerun asks nothing twice), plus ``--out FILE`` for the JSON report. The grading itself is
``msm.evals.agentic.calibrate``; this file only turns a command line into a judge and prints the result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from msm.config import register_configs
from msm.errors import MsmError
from msm.evals.agentic import calibrate
from msm.jsonl import write_json
from msm.llm import client_from_config, settings_problems
from msm.paths import CONF_DIR
from msm.stages.common import llm_cache, plain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("judge_calibration.json"), help="where the JSON report goes")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. judge=anthropic judge.model=...")
    args = parser.parse_args(argv)
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=args.overrides)
    try:
        if cfg.judge.backend == "none":
            raise MsmError("judge=none: calibration needs an LLM judge (judge=openai or judge=anthropic, with judge.model)")
        problems = settings_problems(plain(cfg.judge), "judge")
        if problems:
            raise MsmError("\n".join(problems))
        report = calibrate.calibrate(client_from_config(plain(cfg.judge), cache_dir=llm_cache(cfg)), cfg.judge)
    except MsmError as e:
        for line in str(e).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    write_json(args.out, report)
    print("\n".join(calibrate.summary_lines(report)))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
