"""Check the spec-science trio (the paper's Experiment 4) before any data is generated from it.

The experiment compares three specs that must differ in one thing only: ``rules`` states five core
rules bare, ``value_aug`` adds the reasons behind them and ``rule_aug`` adds subrules instead. Two
silent drifts would confound it: an edit to a core rule in one file but not the others (the arms
would no longer teach the same rules), and ``rule_aug`` growing or shrinking away from
``value_aug`` (the comparison is meant to be length-matched, so that "more reasons" is not confused
with "more words"). This module catches both.

``python -m msm.spec_check [--specs rules value_aug rule_aug] [--spec-dir specs] [--tolerance 0.05]``
prints the word counts and the length ratio, and exits 1 with the problems if the check fails.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from msm.errors import SpecError
from msm.paths import SPECS_DIR
from msm.specs import Spec, find_spec, load_spec

CORE_IDS = ("SP1", "SP2", "SP3", "GP1", "GP2")
DEFAULT_SPECS = ("rules", "value_aug", "rule_aug")


@dataclass
class TrioReport:
    """What :func:`check_trio` found. ``word_counts`` maps spec id to the word count of its rendering
    (what a data generator sees); ``ratio`` is rule_aug / value_aug words (NaN when either is
    missing); ``problems`` holds one readable line per failure."""

    word_counts: dict[str, int]
    ratio: float
    problems: list[str] = field(default_factory=list)
    tolerance: float = 0.05

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        """The word counts and the ratio as a small fixed-width table."""
        width = max([len("spec")] + [len(k) for k in self.word_counts])
        lines = [f"{'spec':<{width}}  {'words':>6}", f"{'-' * width}  {'-' * 6}"]
        lines += [f"{sid:<{width}}  {n:>6}" for sid, n in self.word_counts.items()]
        ratio = "n/a" if math.isnan(self.ratio) else f"{self.ratio:.3f}"
        lines.append(f"rule_aug/value_aug length ratio: {ratio} (allowed: 1 +- {self.tolerance:g})")
        return "\n".join(lines)


def _variant(spec: Spec) -> str:
    """A spec's role in the trio: ``meta.variant`` if set, else its id (so a copy renamed in a test
    or an ad-hoc trio still works)."""
    return str(spec.meta.get("variant") or spec.id)


def _first_difference(a: str, b: str) -> tuple[int, str, str] | None:
    """1-based position and the two words where ``a`` and ``b`` first differ, comparing word by word
    (so reflowed line breaks in the YAML do not count as a change); None if the words are equal."""
    wa, wb = a.split(), b.split()
    for i, (x, y) in enumerate(zip(wa, wb)):
        if x != y:
            return i + 1, x, y
    if len(wa) != len(wb):
        i = min(len(wa), len(wb))
        return i + 1, (wa[i] if i < len(wa) else "<end>"), (wb[i] if i < len(wb) else "<end>")
    return None


def check_trio(specs: Sequence[Spec], core_ids: Sequence[str] = CORE_IDS,
               tolerance: float = 0.05) -> TrioReport:
    """Verify that every spec holds the core rules with word-for-word identical text (compared with
    the first spec), and that rule_aug's rendered length is within ``tolerance`` of value_aug's.

    Specs are matched to roles by ``meta.variant`` (falling back to the id). Every problem found is
    reported, not only the first, so one run shows everything to fix."""
    problems: list[str] = []
    counts = {s.id: len(s.render().split()) for s in specs}
    if not specs:
        return TrioReport(counts, math.nan, ["no specs given"], tolerance)

    ref = specs[0]
    for rid in core_ids:
        holders = [s for s in specs if rid in {r.id for r in s.rules}]
        for s in specs:
            if s not in holders:
                problems.append(f"core rule {rid} is missing from spec {s.id!r}")
        if not holders or ref not in holders:
            continue
        ref_text = ref.rule(rid).text
        for s in holders[1:]:
            diff = _first_difference(ref_text, s.rule(rid).text)
            if diff is not None:
                pos, x, y = diff
                problems.append(f"core rule {rid} differs between {ref.id!r} and {s.id!r} at word "
                                f"{pos}: {x!r} vs {y!r}")

    by_variant = {_variant(s): s for s in specs}
    va, ra = by_variant.get("value_aug"), by_variant.get("rule_aug")
    ratio = math.nan
    if va is None or ra is None:
        missing = [v for v, s in (("value_aug", va), ("rule_aug", ra)) if s is None]
        problems.append(f"cannot check the length match: no {' or '.join(missing)} spec "
                        f"(matched by meta.variant or id) among {sorted(counts)}")
    else:
        ratio = counts[ra.id] / counts[va.id]
        if abs(ratio - 1) > tolerance:
            problems.append(f"length mismatch: {ra.id!r} renders to {counts[ra.id]} words and "
                            f"{va.id!r} to {counts[va.id]}, ratio {ratio:.3f} is outside "
                            f"1 +- {tolerance:g}")
    return TrioReport(counts, ratio, problems, tolerance)


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msm.spec_check",
                                     description="Check that the spec-science trio shares its core "
                                                 "rules verbatim and is length-matched.")
    parser.add_argument("--specs", nargs="+", default=list(DEFAULT_SPECS),
                        help="spec names (looked up in --spec-dir) or .md paths; default: %(default)s")
    parser.add_argument("--spec-dir", default=None,
                        help="directory of <name>.md specs (default: ./specs, then the repo's specs/)")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="allowed relative length difference rule_aug vs value_aug (default 0.05)")
    parser.add_argument("--core", nargs="+", default=list(CORE_IDS), help="core rule ids to compare")
    args = parser.parse_args(argv)
    dirs = [Path(args.spec_dir)] if args.spec_dir else [Path("specs"), SPECS_DIR]
    try:
        specs = [load_spec(find_spec(name, dirs)) for name in args.specs]
    except SpecError as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    report = check_trio(specs, core_ids=tuple(args.core), tolerance=args.tolerance)
    print(report.table())
    if report.ok:
        print(f"OK: core rules {', '.join(args.core)} identical in {len(specs)} specs; "
              f"length match within {args.tolerance:g}")
        return 0
    for p in report.problems:
        print(f"FAIL: {p}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(_main())
