"""Make docs/figures/actions_by_arm.png: the four arms on the tiny model, graded by a scripted judge.

    .venv/bin/python docs/figures/actions_by_arm.py        # about a minute on 2 CPU cores

The tiny model is random and the judge is scripted (tests/integration/servers/scripted_judge.py: KeyedJudge),
so the figure shows what the analysis draws, not a finding: a random model makes no tool calls.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.integration.servers.scripted_judge import KeyedJudge  # noqa: E402


def main() -> None:
    import analysis
    from analysis.figures import actions_by_arm

    with tempfile.TemporaryDirectory() as tmp, KeyedJudge().running() as judge:
        sweep = Path(tmp) / "sweep"
        subprocess.run([sys.executable, str(REPO / "train.py"), "-m", "experiment=agentic_smoke", "model=tiny",
                        "midtrain=none,lora", "aft=none,cot", "datagen.documents.target_documents=20", "judge=openai",
                        f"judge.base_url={judge.base_url}", "judge.model=scripted", "logger=none",
                        f"paths.store={tmp}/store", f"hydra.sweep.dir={sweep}", "~hydra.callbacks.analysis"],
                       cwd=REPO, check=True, env={"OPENAI_API_KEY": "not-a-key", **__import__("os").environ})
        out = actions_by_arm(analysis.load(sweep).jobs, REPO / "docs" / "figures" / "actions_by_arm")
    (REPO / "docs" / "figures" / "actions_by_arm.pdf").unlink(missing_ok=True)  # the PNG is what the README shows
    print("wrote", out[0])


if __name__ == "__main__":
    main()
