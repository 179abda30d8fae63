"""Run one msm job, or a sweep of them with -m.

    python train.py                                    # the embedded default (cheese, SmolLM2-135M, CPU)
    python train.py -m spec=cheese_affordability,cheese_america seed=0-3 model=tiny

``seed=N-M`` is our shorthand for seeds N..M inclusive. Hydra itself would take "0-3" as one string
value, so it is rewritten to Hydra's ``seed=range(N,M+1)`` before Hydra reads the command line.
``plan=true`` prints what a job or sweep would build, reuse and cost, and runs nothing (msm/plan.py).
"""

from __future__ import annotations

import logging
import re
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from msm.confdoc import help_text
from msm.config import register_configs
from msm.redaction import scrub_log_records

_SEED_RANGE = re.compile(r"^(seed)=(\d+)-(\d+)$")
_SPEC_VAR = re.compile(r"^spec\.vars\.[A-Za-z_]\w*=")  # a spec placeholder's value: a key of an open mapping
_SCHEMA_KEYS = ("plan=",)  # keys the schema has: ``+plan=true`` (Hydra's "add a key") means plain ``plan=true``


def expand_shorthand(argv: list[str]) -> list[str]:
    """Rewrite our shorthand into Hydra's: ``seed=N-M`` to ``seed=range(N,M+1)`` (a backwards range is
    refused with a clear message), ``+plan=true`` to ``plan=true``, ``spec.vars.NAME=V`` to ``++spec.vars.NAME=V``
    (Hydra wants a ``+`` to add a key, and ``++`` to add or replace one a spec option may already set)."""
    out = []
    for arg in argv:
        if arg.startswith("+") and arg[1:].startswith(_SCHEMA_KEYS):
            arg = arg[1:]
        if _SPEC_VAR.match(arg):
            arg = f"++{arg}"
        m = _SEED_RANGE.match(arg)
        if m:
            key, lo, hi = m.group(1), int(m.group(2)), int(m.group(3))
            if hi < lo:
                sys.exit(f"error: {arg}: the range is empty (use {key}={hi}-{lo})")
            if "-m" not in argv and "--multirun" not in argv and hi > lo:
                sys.exit(f"error: {arg} asks for {hi - lo + 1} jobs: add -m to run a sweep")
            arg = f"{key}=range({lo},{hi + 1})" if hi > lo else f"{key}={lo}"
        out.append(arg)
    return out


register_configs()
scrub_log_records()  # before Hydra logs the first override (msm/redaction.py)
OmegaConf.register_new_resolver("msm_config_groups", help_text)  # --help (conf/hydra/help/msm.yaml)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> dict | None:
    """One job. A job that fails inside a sweep has written its failure record (``status.json``: the error
    in one line; the traceback is in its log) and returns, so the sweep runs every other cell; the sweep's
    last line and exit status count the failures (analysis/callback.py). Run alone, it exits with 1."""
    from msm.errors import MsmError
    from msm.pipeline import in_sweep, run
    from msm.secrets import scrub_text

    try:
        return run(cfg)
    except MsmError as e:  # the user's input is at fault: one clear line per problem, no traceback
        for line in str(e).splitlines() or [type(e).__name__]:
            print(f"error: {scrub_text(line)}", file=sys.stderr)
        if not in_sweep():
            sys.exit(1)
    except Exception as e:  # a bug or a crash: the traceback goes to the job's log, the sweep goes on
        if not in_sweep():
            raise
        logging.getLogger("msm").exception("the job failed")
        print(f"error: {type(e).__name__}: {scrub_text(str(e))}", file=sys.stderr)
    return None


if __name__ == "__main__":
    sys.argv = [sys.argv[0], *expand_shorthand(sys.argv[1:])]
    try:
        main()
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: one line, not a traceback through Hydra, torch and the Trainer
        from msm.interrupts import Interrupted

        print(f"\ninterrupted{f' by {e.name}' if isinstance(e, Interrupted) else ''}: published stages and training "
              "checkpoints are kept; run the same command again to resume", file=sys.stderr)
        sys.exit(e.exit_code if isinstance(e, Interrupted) else 130)
