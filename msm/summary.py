"""The closing summary of a job: what ran, what it measured against the untrained model, and what to run next.

metrics.json holds every number a job computed (over a hundred for the cheese eval); a researcher who
has just run one job needs a dozen lines instead: which value the spec targets, how the trained model's
rate compares with the untrained one's (with n and a test of the difference), whether training was
healthy, what was built and what reused, where the files are, and the next commands. The same text is
printed and written to ``summary.txt`` in the job folder. What an experiment preset wants said about its
own result (the embedded demo: that it demonstrates the pipeline, not the paper's effect) and the
commands it suggests next come from its config (``summary.note``, ``summary.next``), not from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from msm.evals.inspect_task import headline as inspect_scores
from msm.evals.target import fisher, measured_values
from msm.store import BuildRecord

SUMMARY_FILE = "summary.txt"
ALPHA = 0.05


def _rate_line(name: str, record: dict, tag: str) -> str:
    n, k = record.get(f"{name}/n"), record.get(f"{name}/k")
    trained = f"trained {record[f'{name}/rate']:.3f} ({_num(k)}/{_num(n)})"
    if f"base/{name}/rate" not in record:
        return f"{name}/rate{tag}: {trained}; the untrained model was not scored (eval.include_base=false)"
    bn, bk = record.get(f"base/{name}/n"), record.get(f"base/{name}/k")
    base = f"untrained {record[f'base/{name}/rate']:.3f} ({_num(bk)}/{_num(bn)})"
    diff = record[f"{name}/rate"] - record[f"base/{name}/rate"]
    test = ""
    if None not in (k, n, bk, bn):
        p = fisher(k, n, bk, bn)[1]
        verdict = "a difference at p<0.05" if p < ALPHA else "no significant difference"
        test = f", Fisher's exact p={p:.3g}: {verdict}"
    return f"{name}/rate{tag}: {trained} vs {base}, diff {diff:+.3f}{test}"


def _short(path: Path) -> str:
    """A path relative to the working folder when it is inside it (outputs/..., specs/...), else as is."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _num(x) -> str:
    return "?" if x is None else (f"{x:g}" if isinstance(x, float) else str(x))


def _results(record: dict) -> list[str]:
    """The target first (or why it was not measured), then every other rate the eval measured."""
    lines = []
    target = record.get("target/metric", "").removesuffix("/rate") if record.get("target/measured") else None
    if target:
        lines.append(_rate_line(target, record, " (the target)"))
    else:
        lines.append(f"target not measured: {record.get('target/reason')}")
    for name in measured_values(record):
        if name != target and f"{name}/rate" in record:
            lines.append(_rate_line(name, record, "" if target is None else " (off-target)"))
    lines += [_rate_line(name, record, "") for name in inspect_scores(record)]  # eval=inspect: the task's scores
    return lines


def _training(record: dict) -> list[str]:
    lines = []
    for stage in ("midtrain", "aft"):
        steps = record.get(f"train/{stage}/steps")
        if steps is None:
            continue
        start, end = record.get(f"train/{stage}/loss_start"), record.get(f"train/{stage}/final_loss")
        loss = f", loss {start:.3f} -> {end:.3f}" if start is not None and end is not None else ""
        health = record.get(f"train/{stage}/health", "ok")
        speed = record.get(f"train/{stage}/tokens_per_s")
        mfu = record.get(f"train/{stage}/mfu")
        speed = f" ({speed:,.0f} tokens/s" + (f", MFU {mfu:.0%}" if mfu is not None else "") + ")" if speed else ""
        lines.append(f"{stage}: {steps} updates{loss}, {record.get(f'train/{stage}/tokens_seen', 0):,} tokens: "
                     + ("healthy" if health == "ok" else health.removeprefix("warning: ")) + speed)
    return lines


def _retention(record: dict) -> list[str]:
    """Divergence from the base and bits per byte beside the base's (msm.evals.retention)."""
    if record.get("retention/kl_mean") is None:
        return []
    return [f"KL(trained || base) {record['retention/kl_mean']:.4f} nats/token (p95 {record['retention/kl_p95_tokens']:.4f}) "
            f"over {record['retention/n_tokens']:,} tokens of {record['retention/n_texts']} general-text passages",
            f"bits per byte: trained {record['retention/bits_per_byte']:.4f} vs untrained "
            f"{record['base/retention/bits_per_byte']:.4f} ({record['retention/bits_per_byte_delta']:+.4f})"] + [
        f"{what}: trained {record[f'retention/{key}']:.3f} vs untrained {record[f'base/retention/{key}']:.3f} "
        f"(n={record[f'retention/{n}']})"
        for what, key, n in (("capability (forced choice)", "capability/accuracy", "capability/n"),
                             ("over-refusal (rule-based detector)", "over_refusal_rule_based/rate",
                              "over_refusal_rule_based/n"))
        if record.get(f"retention/{key}") is not None] + [
        f"off-target drift: {k.split('/')[2]} {v:+.3f} (trained minus untrained rate, n={record[k[:-5] + 'n']})"
        for k, v in record.items() if k.startswith("retention/off_target/") and k.endswith("/drift")]


def _data(record: dict, job_dir: Path) -> list[str]:
    """Each corpus's health (msm.data.health) in one line, and where its warnings are."""
    lines = []
    for stage in ("documents", "aft_pool"):
        h = lambda k: record.get(f"health/{stage}/{k}")  # noqa: E731
        if h("distinct_2") is None:
            continue
        rules = f", {h('rules_discussed')} rules discussed (fewest rows {h('min_rows_per_rule')})" \
            if h("rules_discussed") is not None else ""
        warned = f"; {h('warnings')} warning(s): python -m msm.data.health {_short(job_dir)}" if h("warnings") else ""
        sim = "n/a" if h("self_similarity") is None else f"{h('self_similarity'):.3f}"
        lines.append(f"{stage}: distinct-2 {h('distinct_2'):.3f}, self-similarity {sim}, "
                     f"near-duplicates {h('near_duplicate_rate'):.1%}, prompt leakage {h('leakage_rate'):.1%}"
                     f"{rules}{warned}")
    return lines


def _artifacts(records: Sequence[BuildRecord]) -> list[str]:
    built = [r for r in records if r.built]
    reused = [r for r in records if not r.built]
    lines = [f"{len(built)} built, {len(reused)} reused from the store"]
    for r in records:
        lines.append(f"  {r.stage:<11} {'built ' if r.built else 'reused'} {r.seconds:7.1f} s  peak {r.peak_rss_mb / 1024:.2f} GB"
                     f"  {r.key}")
    return lines


def _commands(commands: Sequence[str], results_dir: Path) -> list[str]:
    """The next commands with ``{results}`` filled in and their ``# comments`` lined up."""
    split = [(cmd.format(results=_short(results_dir)).split(" # ", 1) + [""])[:2] for cmd in commands]
    width = max((len(c.rstrip()) for c, _ in split), default=0)
    return [f"{c.rstrip():<{width}}  # {note.strip()}" if note else c.rstrip() for c, note in split]


def render(record: dict, records: Sequence[BuildRecord], job_dir: Path, spec_path: Path, note: str | None,
           next_commands: Sequence[str], results_dir: Path, stages: Sequence[str] = ("eval",),
           imports: Sequence[dict] = ()) -> str:
    """The summary's text (see the module docstring); ``next_commands`` may name ``{results}``. A job
    that stopped before its eval (``stages=``) says so where the results would be; ``imports`` (what the
    researcher brought: field, location, bytes, digest) are named."""
    target = record.get("target/value") or record.get("target/metric") or "none declared"
    aft = f", {record['aft_scale']} AFT rows" if record.get("aft_scale") is not None else ""
    rows = [
        ("spec", f"{record['spec']} ({_short(spec_path)}); target: {target}"),
        ("arm", f"{record['arm']} (midtrain={record['midtrain']}, aft={record['aft']}{aft}), model {record['model']}, "
                f"seed {record['seed']}"),
        ("eval", record["eval"] + (f", scorer {record['scorer']}" if record.get("scorer") else "")),
    ]
    evaluated = "eval" in stages
    results = _results(record) if evaluated else [f"no eval: the job stopped after stages={list(stages)}"]
    rows += [("result" if i == 0 else "", line) for i, line in enumerate(results)]
    rows += [("retention" if i == 0 else "", line) for i, line in enumerate(_retention(record))]
    rows += [("imported" if i == 0 else "", f"{imp['field']}: {imp['location']} ({imp['bytes']:,} bytes, digest "
              f"{imp['digest']})") for i, imp in enumerate(imports)]
    rows += [("data" if i == 0 else "", line) for i, line in enumerate(_data(record, job_dir))]
    rows += [("training" if i == 0 else "", line) for i, line in enumerate(_training(record))]
    rows += [("artifacts" if i == 0 else "", line) for i, line in enumerate(_artifacts(records))]
    files = "metrics.json, samples.jsonl, " if evaluated else ""
    rows.append(("files", f"{_short(job_dir)}/ ({files}artifacts.json, {SUMMARY_FILE})"))
    if note:
        rows.append(("note", note.strip()))
    rows += [("next" if i == 0 else "", line) for i, line in enumerate(_commands(next_commands, results_dir))]
    width = max(len(label) for label, _ in rows)
    body = "\n".join(f"{label:<{width}}  {text}" for label, text in rows)
    return f"== job summary {'=' * 60}\n{body}\n"
