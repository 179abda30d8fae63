"""Corpus health: cheap statistics of a generated corpus that say, before any training is paid for,
whether training on it can take.

Independent MSM reproductions found that a corpus which says the same few things in the same words,
which leaves some of the spec's rules undiscussed, or which parrots its own generation prompts, does not
instil the spec; they check these numbers first. Computed when the documents and AFT-pool stages publish
(stored in their manifests as ``corpus_health``), written to each job's metrics, checked against thresholds
(``datagen.health``) and shown by::

    python -m msm.data.health <store artifact folder | job folder>

What each number is:

- ``length_words``: the distribution of row lengths in words (min, p5, median, p95, max, mean). Words,
  not tokens: the data stages are shared by every model, and so by every tokenizer.
- ``distinct_n``: distinct word n-grams over all n-grams, n = 1, 2, 3, counted over the first
  ``DISTINCT_SAMPLE_WORDS`` words of the rows in a seeded random order, so that corpora of different
  sizes compare (pooled over a whole corpus the figure falls as the corpus grows). 1.0: no n-gram repeats.
- ``self_similarity``: the mean, over every pair of different rows, of the cosine of their word-trigram
  shingle sets (the share of trigrams they have in common, 0 to 1).
- ``near_duplicate_rate``: the share of rows with a partner above ``NEAR_DUPLICATE_COSINE`` on that
  measure. Lexical on purpose: the MiniLM embeddings the data stages deduplicate with cost a model forward
  pass a row, and these numbers must be cheap.
- ``rule_coverage``: per spec rule, how many rows discuss it. A row discusses the rules its metadata
  names (``rule_ids``/``rule_id``: the offline generators record them); a row without such metadata is
  matched by a **lexical heuristic**: it discusses a rule when it holds at least ``RULE_WORD_SHARE`` of
  the rule's distinctive words (words of 4+ letters found in fewer than half of the spec's rules).
- ``leakage_rate``: the share of rows that contain a word 8-gram of the generation prompts' fixed text
  (``msm/data/prompts``; placeholders and the spec's own wording excluded), e.g. a copied instruction.
- ``truncation_rate``: rows the generator cut off at its token limit over rows it wrote, from the
  stage's own counts (docgen drops a truncated document, so this is what it cost, not what was kept);
  null where the stage does not count truncation (the offline generators never truncate).

- ``eval_overlap`` (added by the data stages, ``msm.stages.data``): the share of the word 8-grams of msm's
  eval prompts (the paper's agentic grid and the value eval's items) found in the corpus, overall and
  for the worst prompt: the contamination check (``msm.evals.contamination``), the spec's own rule
  texts set aside. An agentic job also writes its own ``contamination.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from msm.specs import Spec
from msm.text import row_text, words

VERSION = 1  # bump when a number would now be computed differently
PROMPT_DIR = Path(__file__).parent / "prompts"
NEAR_DUPLICATE_COSINE = 0.8  # shingle overlap above which two rows are near-duplicates
SHINGLE_N = 3
SHINGLE_BUCKETS = 1 << 22
DISTINCT_SAMPLE_WORDS = 100_000
RULE_WORD_SHARE = 0.6
LEAK_N = 8
_PLACEHOLDER = re.compile(r"\$\{?\w+\}?")


def length_stats(lengths: Sequence[int]) -> dict:
    if not lengths:
        return {}
    a = np.asarray(lengths, dtype=float)
    p5, p50, p95 = np.percentile(a, [5, 50, 95])
    return {"min": int(a.min()), "p5": float(p5), "p50": float(p50), "p95": float(p95), "max": int(a.max()),
            "mean": float(a.mean())}


def distinct_sample(tokenized: Sequence[Sequence[str]], words_wanted: int = DISTINCT_SAMPLE_WORDS,
                    seed: int = 0) -> list[Sequence[str]]:
    """Rows in a seeded random order, up to the one that brings the sample to ``words_wanted`` words."""
    order = np.random.default_rng(seed).permutation(len(tokenized))
    out, count = [], 0
    for i in order:
        if count >= words_wanted:
            break
        out.append(tokenized[i])
        count += len(tokenized[i])
    return out


def distinct_n(tokenized: Sequence[Sequence[str]], n: int) -> float | None:
    """Distinct n-grams over all n-grams of these rows (None when no row has n words)."""
    seen, total = set(), 0
    for w in tokenized:
        grams = [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


def shingle_matrix(tokenized: Sequence[Sequence[str]], n: int = SHINGLE_N):
    """Rows x hashed word-n-gram shingles, binary, each row scaled to unit length (a sparse matrix): the
    cosine of two rows is then the Ochiai overlap of their shingle sets. CRC32, not ``hash``: Python's
    string hash changes with every process, and the numbers must not."""
    from scipy.sparse import csr_matrix

    indptr, indices = [0], []
    for w in tokenized:
        cols = sorted({zlib.crc32(" ".join(w[i : i + n]).encode()) % SHINGLE_BUCKETS for i in range(len(w) - n + 1)})
        indices += cols
        indptr.append(len(indices))
    data = np.concatenate([np.full(b - a, 1 / np.sqrt(b - a)) for a, b in zip(indptr, indptr[1:]) if b > a] or [[]])
    return csr_matrix((data, indices, indptr), shape=(len(tokenized), SHINGLE_BUCKETS))


def similarity_stats(matrix, threshold: float = NEAR_DUPLICATE_COSINE) -> tuple[float | None, float]:
    """(mean cosine over all pairs of different rows, share of rows with a partner above ``threshold``)
    from unit-length rows. The mean comes in closed form (|sum of rows|^2 = n + the sum over ordered pairs),
    the nearest partner from the similarity matrix in blocks, so 13k rows stay in memory."""
    n = matrix.shape[0]
    if n < 2:
        return None, 0.0
    norms = np.asarray(matrix.multiply(matrix).sum(1)).ravel()  # 1, or 0 for a row too short for a shingle
    total = float(np.square(np.asarray(matrix.sum(0))).sum())
    mean = (total - float(norms.sum())) / (n * (n - 1))
    duplicated, transposed = 0, matrix.T.tocsr()  # CSR x CSR: twice as fast as against the CSC view
    for start in range(0, n, 1024):
        block = (matrix[start : start + 1024] @ transposed).toarray()
        block[np.arange(len(block)), start + np.arange(len(block))] = -1.0  # not its own partner
        duplicated += int((block.max(1) > threshold).sum())
    return mean, duplicated / n


def _distinctive_words(spec: Spec) -> dict[str, set[str]]:
    """Per rule, its words of 4+ letters found in fewer than half the spec's rules (so "assistant", in
    every rule, says nothing about which rule a row discusses)."""
    per_rule = {r.id: {w for w in words(f"{r.title} {r.text}") if len(w) >= 4} for r in spec.rules}
    df = Counter(w for ws in per_rule.values() for w in ws)
    limit = max(len(per_rule) / 2, 1)
    return {rid: {w for w in ws if df[w] < limit} or ws for rid, ws in per_rule.items()}


def rule_coverage(rows: Sequence[dict], tokenized: Sequence[Sequence[str]], spec: Spec) -> dict:
    """How many rows discuss each rule, and how that was decided (metadata, the lexical heuristic, or both)."""
    counts = {r.id: 0 for r in spec.rules}
    distinctive = _distinctive_words(spec)
    methods = Counter()
    for row, w in zip(rows, tokenized):
        named = row.get("rule_ids") or ([row["rule_id"]] if row.get("rule_id") else None)
        if named is not None:
            methods["metadata"] += 1
            hits = {rid for rid in named if rid in counts}
        else:
            methods["lexical heuristic"] += 1
            present = set(w)
            hits = {rid for rid, ws in distinctive.items() if len(ws & present) >= RULE_WORD_SHARE * len(ws)}
        for rid in hits:
            counts[rid] += 1
    return {"per_rule": counts, "method": dict(methods)}


def prompt_ngrams(spec: Spec | None, n: int = LEAK_N, prompt_dir: Path = PROMPT_DIR) -> set[tuple[str, ...]]:
    """Word n-grams of the generation prompts' fixed text: each stretch between placeholders on its own
    (an n-gram across a placeholder is not in any prompt), less those the spec itself contains."""
    grams: set[tuple[str, ...]] = set()
    for path in sorted(prompt_dir.rglob("*.md")):
        for piece in _PLACEHOLDER.split(path.read_text(encoding="utf-8")):
            w = words(piece)
            grams.update(tuple(w[i : i + n]) for i in range(len(w) - n + 1))
    if spec is not None:
        w = words(spec.render())
        grams -= {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}
    return grams


def leakage(tokenized: Sequence[Sequence[str]], grams: set[tuple[str, ...]], n: int = LEAK_N) -> tuple[float, list[str]]:
    """(share of rows holding a prompt n-gram, the most frequent leaked phrases)."""
    if not tokenized:
        return 0.0, []
    leaked, phrases = 0, Counter()
    for w in tokenized:
        found = {tuple(w[i : i + n]) for i in range(len(w) - n + 1)} & grams
        leaked += bool(found)
        phrases.update(" ".join(g) for g in found)
    return leaked / len(tokenized), [p for p, _ in phrases.most_common(5)]


def corpus_health(rows: Sequence[dict], spec: Spec | None, *, truncated: int | None = None,
                  written: int | None = None) -> dict:
    """The health report of a corpus of rows (documents: ``text``; AFT rows: ``messages``)."""
    tokenized = [words(row_text(r)) for r in rows]
    self_sim, near_dup = similarity_stats(shingle_matrix(tokenized))
    sample = distinct_sample(tokenized)
    rate, phrases = leakage(tokenized, prompt_ngrams(spec))
    return {
        "version": VERSION,
        "rows": len(rows),
        "length_words": length_stats([len(w) for w in tokenized]),
        "distinct_n": {str(n): distinct_n(sample, n) for n in (1, 2, 3)},
        "self_similarity": self_sim,
        "near_duplicate_rate": near_dup,
        "rule_coverage": rule_coverage(rows, tokenized, spec) if spec is not None else None,
        "leakage_rate": rate,
        "leaked_phrases": phrases,
        "truncation_rate": truncated / written if truncated is not None and written else None,
    }


def warnings(report: dict, thresholds, stage: str) -> list[str]:
    """Each number past its threshold (``datagen.health``), as a sentence that says what it risks."""
    out = []
    t = thresholds
    d2 = (report.get("distinct_n") or {}).get("2")
    if d2 is not None and d2 < t.min_distinct_2:
        out.append(f"{stage}: distinct-2 is {d2:.3f} (< datagen.health.min_distinct_2={t.min_distinct_2}): the "
                   "corpus says the same things in the same words")
    if report["near_duplicate_rate"] > t.max_near_duplicate_rate:
        out.append(f"{stage}: {report['near_duplicate_rate']:.1%} of rows are near-duplicates (> "
                   f"datagen.health.max_near_duplicate_rate={t.max_near_duplicate_rate})")
    sim = report.get("self_similarity")
    if sim is not None and sim > t.max_self_similarity:
        out.append(f"{stage}: mean self-similarity {sim:.3f} (> datagen.health.max_self_similarity="
                   f"{t.max_self_similarity})")
    coverage = report.get("rule_coverage")
    if coverage is not None and t.min_rows_per_rule > 0:
        thin = [f"{rid} ({n})" for rid, n in coverage["per_rule"].items() if n < t.min_rows_per_rule]
        if thin:
            out.append(f"{stage}: {len(thin)} rule(s) discussed by fewer than datagen.health.min_rows_per_rule="
                       f"{t.min_rows_per_rule} rows: {', '.join(thin[:10])}{' ...' if len(thin) > 10 else ''}")
    if report["leakage_rate"] > t.max_leakage_rate:
        out.append(f"{stage}: {report['leakage_rate']:.1%} of rows repeat generation-prompt text (> "
                   f"datagen.health.max_leakage_rate={t.max_leakage_rate}), e.g. {report['leaked_phrases'][:1]}")
    overlap = (report.get("eval_overlap") or {}).get("max_prompt_rate")
    if overlap is not None and overlap > t.max_eval_overlap:
        out.append(f"{stage}: an eval prompt shares {overlap:.1%} of its 8-grams with the corpus (> "
                   f"datagen.health.max_eval_overlap={t.max_eval_overlap}): a good score could be recall")
    trunc = report.get("truncation_rate")
    if trunc is not None and trunc > t.max_truncation_rate:
        out.append(f"{stage}: the generator cut off {trunc:.1%} of what it wrote (> "
                   f"datagen.health.max_truncation_rate={t.max_truncation_rate}): raise its max_tokens")
    return out


def as_metrics(report: dict, stage: str) -> dict:
    """Flat numbers for metrics.json and the tracker (per-rule counts stay in the manifest)."""
    out = {f"health/{stage}/{k}": report[k] for k in ("near_duplicate_rate", "self_similarity", "leakage_rate",
                                                      "truncation_rate") if report.get(k) is not None}
    out.update({f"health/{stage}/distinct_{n}": v for n, v in report["distinct_n"].items() if v is not None})
    if report.get("length_words"):
        out[f"health/{stage}/length_words_p50"] = report["length_words"]["p50"]
    if report.get("eval_overlap"):
        out[f"health/{stage}/eval_overlap_max_prompt_rate"] = report["eval_overlap"]["max_prompt_rate"]
    coverage = report.get("rule_coverage")
    if coverage:
        counts = list(coverage["per_rule"].values())
        out[f"health/{stage}/rules_discussed"] = sum(c > 0 for c in counts)
        out[f"health/{stage}/min_rows_per_rule"] = min(counts) if counts else 0
    return out


def render(report: dict, stage: str, problems: Iterable[str] = ()) -> str:
    """The report as a few aligned lines (the CLI's output)."""
    L = report.get("length_words") or {}
    dn = report["distinct_n"]
    fmt = lambda v, spec=".3f": "n/a" if v is None else format(v, spec)  # noqa: E731
    lines = [f"{stage}: {report['rows']} rows (health v{report['version']})",
             f"  length (words)    min {L.get('min', 'n/a')}  p5 {fmt(L.get('p5'), '.0f')}  median "
             f"{fmt(L.get('p50'), '.0f')}  p95 {fmt(L.get('p95'), '.0f')}  max {L.get('max', 'n/a')}",
             f"  distinct-1/2/3    {fmt(dn['1'])} / {fmt(dn['2'])} / {fmt(dn['3'])}",
             f"  self-similarity   {fmt(report['self_similarity'])} (mean trigram overlap of two rows)",
             f"  near-duplicates   {report['near_duplicate_rate']:.1%} of rows (trigram overlap > {NEAR_DUPLICATE_COSINE})",
             f"  prompt leakage    {report['leakage_rate']:.1%} of rows" +
             (f" (e.g. \"{report['leaked_phrases'][0]}\")" if report["leaked_phrases"] else ""),
             f"  truncation        {fmt(report['truncation_rate'], '.1%')}"]
    overlap = report.get("eval_overlap")
    if overlap:
        lines.append(f"  eval overlap      {overlap['overlap_rate']:.2%} of the {overlap['n']}-grams of {overlap['prompts']} "
                     f"eval prompts (worst prompt {overlap['max_prompt_rate']:.2%})")
    coverage = report.get("rule_coverage")
    if coverage:
        counts = coverage["per_rule"]
        method = ", ".join(f"{k}: {v} rows" for k, v in coverage["method"].items())
        lines.append(f"  rule coverage     {sum(c > 0 for c in counts.values())}/{len(counts)} rules discussed "
                     f"({method})")
        lines.append("                    " + "  ".join(f"{rid} {n}" for rid, n in counts.items()))
    lines += [f"  warning: {p}" for p in problems]
    return "\n".join(lines)


def _reports_in(path: Path) -> list[tuple[str, dict, list[str]]]:
    """(stage, report, warnings) from a store artifact (its manifest; warnings against the default
    thresholds) or a job folder (its ``health.json``; warnings against the job's own thresholds)."""
    from msm.config import CorpusHealthThresholds

    manifest, job = path / "manifest.json", path / "health.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        report = m.get("info", {}).get("corpus_health")
        return [(m["stage"], report, warnings(report, CorpusHealthThresholds(), m["stage"]))] if report else []
    if job.is_file():
        return [(stage, h["report"], h["warnings"]) for stage, h in json.loads(job.read_text()).items()]
    raise SystemExit(f"{path}: neither a documents/aft_pool folder of the store (manifest.json) nor a job folder "
                     "(health.json)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msm.data.health", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="a documents or aft_pool folder in the store, or a job folder")
    args = parser.parse_args(argv)
    reports = _reports_in(args.path)
    if not reports:
        print(f"{args.path}: no corpus-health report (not a data stage, or published before msm computed them: a "
              "job that uses it reports its health)")
        return 1
    for stage, report, problems in reports:
        print(render(report, stage, problems))
    contamination = args.path / "contamination.json"
    if contamination.is_file():
        c = json.loads(contamination.read_text())
        print(f"eval overlap: {c['overlap_rate']:.2%} of the eval's {c['n']}-grams appear in the training data "
              f"(worst prompt {c['max_prompt_rate']:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
