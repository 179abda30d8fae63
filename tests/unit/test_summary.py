"""The closing summary of a job (msm/summary.py) and the option list of ``train.py --help`` (msm/confdoc.py)."""

import subprocess
import sys
from pathlib import Path

from scipy import stats

from msm import confdoc, summary
from msm.paths import CONF_DIR, REPO
from msm.store import BuildRecord

RECORDS = [BuildRecord("documents", "aaaa", False, 0.1, 500.0), BuildRecord("midtrain", "bbbb", True, 90.0, 2048.0),
           BuildRecord("eval", "cccc", True, 30.0, 1024.0)]


def _record(**extra) -> dict:
    record = {"spec": "cheese_affordability", "arm": "msm_aft", "midtrain": "lora", "aft": "cot", "aft_scale": 240,
              "model": "tiny", "seed": 3, "eval": "auto:cheese", "scorer": "letter",
              "affordability/n": 100, "affordability/k": 70.0, "affordability/rate": 0.70,
              "base/affordability/n": 100, "base/affordability/k": 43.5, "base/affordability/rate": 0.435,
              "america/n": 70, "america/k": 35, "america/rate": 0.5,
              "base/america/n": 70, "base/america/k": 33, "base/america/rate": 33 / 70,
              "diagnostic/p_first_shown": 0.7,
              "target/value": "affordability", "target/metric": "affordability/rate", "target/rate": 0.7,
              "target/n": 100, "target/measured": True,
              "train/midtrain/steps": 25, "train/midtrain/loss_start": 3.97, "train/midtrain/final_loss": 3.12,
              "train/midtrain/tokens_seen": 21668, "train/midtrain/health": "ok"}
    return {**record, **extra}


def _render(record, **kw):
    args = dict(records=RECORDS, job_dir=Path("/jobs/7"), spec_path=Path("specs/cheese_affordability.md"),
                note=None, next_commands=["python -m analysis {results}"], results_dir=Path("/jobs"))
    return summary.render(record, **{**args, **kw})


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if start in line)


def test_the_target_comes_first_with_both_models_and_a_fisher_test():
    text = _render(_record())
    target = _line(text, "affordability/rate (the target)")
    assert "trained 0.700 (70/100) vs untrained 0.435 (43.5/100), diff +0.265" in target
    p = stats.fisher_exact([[70, 30], [44, 56]]).pvalue  # 43.5 rounds to 44 (round half to even)
    assert f"Fisher's exact p={p:.3g}: a difference at p<0.05" in target
    off = _line(text, "america/rate (off-target)")
    assert f"p={stats.fisher_exact([[35, 35], [33, 37]]).pvalue:.3g}: no significant difference" in off
    assert text.index("(the target)") < text.index("(off-target)")
    assert "diagnostic" not in text and "p_first_shown" not in text  # a diagnostic is not a rate of the eval


def test_identity_training_artifacts_and_next_commands():
    text = _render(_record(), note="a demo, not the paper's effect", next_commands=["python -m analysis {results}"])
    assert _line(text, "spec ").endswith("cheese_affordability (specs/cheese_affordability.md); target: affordability")
    assert "msm_aft (midtrain=lora, aft=cot, 240 AFT rows), model tiny, seed 3" in text
    assert "auto:cheese, scorer letter" in text
    assert "midtrain: 25 updates, loss 3.970 -> 3.120, 21,668 tokens: healthy" in text
    assert "2 built, 1 reused from the store" in text
    assert "peak 2.00 GB" in _line(text, "midtrain    built")
    assert "note       a demo, not the paper's effect" in text
    assert _line(text, "next").endswith("python -m analysis /jobs")  # {results}: the sweep's folder when given


def test_an_unhealthy_stage_and_an_unmeasured_target_say_so():
    reason = "the eval items label no option for the spec's value 'simplicity'"
    record = _record(**{"train/midtrain/health": "warning: midtrain: only 3 optimizer updates",
                        "target/measured": False, "target/reason": reason})
    record.pop("target/metric")
    text = _render(record)
    assert f"target not measured: {reason}" in text
    assert "midtrain: 25 updates, loss 3.970 -> 3.120, 21,668 tokens: midtrain: only 3 optimizer updates" in text
    assert "(off-target)" not in text  # with no target, nothing is off it
    assert "affordability/rate: trained 0.700" in text


def test_no_base_model_and_no_eval():
    record = {k: v for k, v in _record().items() if not k.startswith("base/")}
    assert "the untrained model was not scored (eval.include_base=false)" in _render(record)
    text = _render(_record(), stages=["data", "midtrain"])
    assert "no eval: the job stopped after stages=['data', 'midtrain']" in text and "metrics.json" not in text


def test_every_option_has_a_one_line_description():
    groups = confdoc.groups()
    on_disk = {p.parent.relative_to(CONF_DIR).as_posix() for p in CONF_DIR.rglob("*.yaml") if p.parent != CONF_DIR}
    assert set(groups) == on_disk - {"hydra/help"}
    for group, options in groups.items():
        assert set(options) == {p.stem for p in (CONF_DIR / group).glob("*.yaml")}
        for option, text in options.items():
            assert 10 < len(text) <= confdoc.WIDTH and "\n" not in text, f"{group}/{option}: {text!r}"


def test_first_sentence_and_header(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("# @package _global_\n# One thing: the first\n# line goes on. Then more.\n#\n# Apart.\nkey: 1\n")
    assert confdoc.header(path) == "One thing: the first line goes on. Then more."
    assert confdoc.first_sentence(confdoc.header(path)) == "One thing: the first line goes on."
    assert confdoc.first_sentence("x" * 200).endswith("…") and len(confdoc.first_sentence("x" * 200)) == confdoc.WIDTH


def test_train_help_lists_every_group_and_option():
    out = subprocess.run([sys.executable, str(REPO / "train.py"), "--help"], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    for group, options in confdoc.groups().items():
        assert f"\n{group}:\n" in out.stdout
        for option, text in options.items():
            assert f"  {option}" in out.stdout and text in out.stdout


def test_next_commands_line_up_their_comments():
    text = _render(_record(), next_commands=["python -m analysis {results}  # the tables", "python train.py -m x=1,2,3 # two"])
    first, second = [line for line in text.splitlines() if "#" in line]
    assert first.endswith("python -m analysis /jobs    # the tables") and second.endswith("python train.py -m x=1,2,3  # two")
    assert first.index("#") == second.index("#")
