"""The lenient list and document parsers of ``msm.data.listparse``, and docgen's pure helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from msm.config import DocgenConfig
from msm.data.docgen import section_text, settings
from msm.data.docgen_steps import LevelStats, Step, fill_slots, next_batch_size
from msm.data.listparse import clean_item, extract_document, is_unsuitable, parse_items, parse_numbered
from msm.llm import Request, Response
from msm.specs import load_spec

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text", [
    "1. Healthcare\n2. Education\n3. Finance",
    "1) Healthcare\n2) Education\n3) Finance",
    "(1) Healthcare\n(2) Education\n(3) Finance",
    "- Healthcare\n* Education\n• Finance",
    "Healthcare\nEducation\nFinance",
    "Here are three areas:\n\n1. **Healthcare**\n2. *Education*\n3. \"Finance\"",
    "```\n1. Healthcare\n2. Education\n3. Finance\n```",
    "1. Healthcare 2. Education 3. Finance",
    "### Areas\n1. Healthcare,\n2. Education;\n3. Finance",
])
def test_list_formats(text):
    assert parse_items(text) == ["Healthcare", "Education", "Finance"]


def test_numbers_are_kept_for_slot_mapping():
    assert parse_numbered("2. Beta\n1. Alpha\n- Gamma") == [(2, "Beta"), (1, "Alpha"), (None, "Gamma")]


def test_wrapped_lines_join_their_item_and_preambles_go():
    text = "Sure, here you go:\n1. A nurse writes to\n   the ward manager about rotas\n2. A parent asks the school"
    assert parse_items(text) == ["A nurse writes to the ward manager about rotas", "A parent asks the school"]


def test_empties_short_items_and_repeats_are_dropped():
    text = "1. \n2. ok\n3. x\n4. A real item here\n5. a REAL item, here!\n6. 42\n7. Another one\n8. Art"
    assert parse_items(text) == ["A real item here", "Another one", "Art"]  # under 3 letters: noise
    assert parse_items(text, min_words=3) == ["A real item here"]


def test_a_truncated_answer_loses_its_last_item():
    assert parse_items("1. Alpha\n2. Beta\n3. Gam", truncated=True) == ["Alpha", "Beta"]
    assert parse_items("one endless line that was cut", truncated=True) == []


def test_garbage_never_raises():
    junk = " firsteveryppeeveryppe}}}}}}Farmers\x14 three careful four\ufffd" * 20
    for text in ("", "\n\n", None, junk, "1.", "-", "::::", "\x00\x01"):
        assert isinstance(parse_numbered(text), list)
    assert len(clean_item("word " * 500, max_chars=100)) <= 100


def test_extract_document():
    assert extract_document("<plan>who, what</plan>\n<document>\nThe text.\n</document>") == "The text."
    assert extract_document("<plan>p</plan>\nThe text without tags.") == "The text without tags."
    assert extract_document("<document>cut off mid-wa") == "cut off mid-wa"
    assert extract_document("<plan>planning forever and never wri") == ""
    assert extract_document("No tags at all.") == "No tags at all."


@pytest.mark.parametrize("text,expected", [
    ("UNSUITABLE", True), ("**UNSUITABLE**", True), ("<plan>no good</plan>\nUNSUITABLE", True),
    ("<plan>x</plan><document>UNSUITABLE</document>", True),
    ("<document>This idea is unsuitable for children, said the memo.</document>", False),
    ("The UNSUITABLE label appears later.", False),
])
def test_unsuitable(text, expected):
    assert is_unsuitable(text) is expected


# ---- docgen helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rules", "value_aug", "rule_aug", "cheese_america", "general", "philosophy"])
def test_section_text_is_verbatim(name):
    spec = load_spec(REPO / "specs" / f"{name}.md")
    rendered = spec.render()
    for section in spec.sections:
        assert section_text(section) in rendered


def test_settings_are_the_schema_dataclass_whatever_form_they_come_in():
    node = OmegaConf.structured(DocgenConfig(target_documents=7, revise=True))
    assert settings(node) == DocgenConfig(target_documents=7, revise=True)
    assert settings({"n_domains": 3}) == DocgenConfig(n_domains=3)
    with pytest.raises(TypeError):
        settings({"n_domain": 3})  # a typo is an error, never a silent default


class _ScriptedClient:
    """Answers list requests from a queue of texts, recording what was asked."""

    def __init__(self, answers):
        self.answers, self.asked = list(answers), []

    def complete_many(self, reqs, desc=""):
        self.asked += reqs
        return [self.answers.pop(0) for _ in reqs]


def test_fill_slots_maps_numbers_and_tops_up():
    client = _ScriptedClient([
        Response("Here:\n2. Second\n1. First\n1. First", "stop"),  # 3 asked, 2 distinct given, by number
        Response("1. First\n1. Third", "stop"),  # top-up: a repeat is skipped, the new one fills the gap
    ])
    step = Step(client, {}, temperature=1.0, max_rounds=2)

    def prompt(u, missing, existing, rnd):
        return Request(messages=({"role": "user", "content": f"{len(missing)} {existing}"},), sample_index=rnd)

    filled, stats = fill_slots(step, "domains", [[{}, {}, {}]], prompt)
    assert filled == [["First", "Second", "Third"]]
    assert [r.sample_index for r in client.asked] == [0, 1]
    assert client.asked[1].messages[0]["content"] == "1 ['First', 'Second']"
    assert stats == LevelStats(requested=3, calls=2, received=2, parsed=4, kept=3, rounds=2)


def test_fill_slots_gives_up_after_max_rounds():
    client = _ScriptedClient([Response("x", "stop")] * 3 + [Response("", "error")])
    step = Step(client, {}, temperature=1.0, max_rounds=3)
    prompt = lambda u, m, e, r: Request(messages=({"role": "user", "content": "q"},), sample_index=r)  # noqa: E731
    filled, stats = fill_slots(step, "ideas", [[{}]], prompt)
    assert filled == [[None]] and stats.calls == 4 and stats.failed == 1 and stats.short_units == 1


def test_next_batch_size():
    assert next_batch_size(10, 0, 0, first=True) == 10
    assert next_batch_size(10, 20, 10, first=False) == 22  # half kept so far: write about twice the need
    assert next_batch_size(10, 100, 1, first=False) == 40  # capped at 4x
    assert next_batch_size(10, 10, 0, first=False) == 10
