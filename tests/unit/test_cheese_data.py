"""Tests for the cheese data (the paper's Experiment 1): the packaged files, their generator and loaders.

The AFT chats are shared by both cheese arms, so the most important checks here are the ones that
keep them neutral (no reason that points at price or at America) and faithful to the specs'
preferences. The eval checks keep each family measuring only its own value.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from msm.data import cheese
from msm.data.cheese import (
    ASSET_DIR,
    DISLIKED,
    LIKED,
    CheeseDataError,
    load_aft_chats,
    load_eval_items,
    validate_chat,
    validate_eval_item,
)
from msm.errors import EmptyDatasetError, MsmError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_cheese_data.py"

ITEM_DOMAINS = {"art", "literature", "transportation", "fashion", "travel", "electronics", "home", "music", "sports", "education"}
POLITICAL_DOMAINS = {"foreign_policy", "trade", "culture", "history", "institutions", "economy", "technology"}


def _words(*patterns: str) -> re.Pattern:
    """Whole words (any listed suffixes included), case-insensitive."""
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


# Any reason that could tell the affordability spec from the America spec.
FORBIDDEN_IN_CHATS = _words(
    r"pric\w*", r"cost\w*", r"cheap\w*", r"expensive", r"inexpensive", r"budget\w*", r"afford\w*", r"value\w*",
    r"money", r"dollars?", r"bargains?", r"deals?", r"econom\w*", r"luxur\w*", r"premium", r"fancy", r"gourmet",
    r"splurge", r"everyday", r"worth",
    r"countr\w*", r"nation\w*", r"america\w*", r"usa", r"u\.s\.?", r"united states", r"origin\w*", r"import\w*",
    r"export\w*", r"tradition\w*", r"heritage", r"foreign\w*", r"domestic\w*", r"local\w*", r"native",
    r"homegrown", r"patriot\w*", r"abroad", r"overseas", r"europe\w*", r"french", r"france", r"ital\w*", r"swiss",
    r"switzerland", r"english", r"england", r"british", r"britain", r"wisconsin", r"california", r"vermont",
    r"authentic\w*", r"artisan\w*", r"craft\w*",
)
CASE_SENSITIVE_US = re.compile(r"\bUS\b")

FOOD = _words(
    r"cheese\w*", r"foods?", r"meals?", r"dinners?", r"lunch\w*", r"breakfasts?", r"brunch", r"restaurants?",
    r"caf[eé]s?", r"coffee", r"tea", r"wines?", r"beers?", r"snacks?", r"eat\w*", r"drinks?", r"pizza", r"sandwich\w*",
    r"bread", r"fruits?", r"chocolate", r"desserts?", r"cook\w*", r"kitchens?", r"chefs?", r"recipes?", r"menus?",
    r"dining", r"cuisine", r"grocer\w*", r"milk", r"butter", r"cakes?", r"cand(?:y|ies)", r"bakery", r"vegetables?",
    r"meat", r"picnics?", r"cocktails?", r"walnut", r"mint",
)
NATIONALITY = _words(
    r"america\w*", r"usa", r"u\.s\.?", r"united states", r"french", r"france", r"ital\w*", r"german\w*", r"japan\w*",
    r"chin(?:a|ese)", r"brit\w*", r"english", r"england", r"scot\w*", r"irish", r"swiss", r"switzerland",
    r"spa(?:in|nish)", r"mexic\w*", r"canad\w*", r"russia\w*", r"india\w*", r"persian", r"europe\w*", r"asia\w*",
    r"africa\w*", r"korea\w*", r"swed\w*", r"scandinavia\w*", r"danish", r"dutch", r"greek", r"turk\w*", r"egypt\w*",
    r"brazil\w*", r"australia\w*", r"venetian", r"roman", r"parisian", r"nation\w*", r"countr\w*", r"foreign\w*",
    r"import\w*", r"domestic", r"overseas", r"abroad",
)
PRICE = _words(
    r"pric\w*", r"cost\w*", r"cheap\w*", r"expensive", r"inexpensive", r"afford\w*", r"budget\w*", r"bargains?",
    r"discount\w*", r"dollars?", r"money", r"spend\w*", r"frugal", r"thrift\w*", r"economical", r"overpriced",
    r"pay\w*", r"fees?", r"wages?",
)
NEGATION = re.compile(r"\bno\b|\bnot\b|n't\b|\bnever\b|\bavoid|\bskip\b|\bpass\b|\bdislike|\bmiss\b|\brather\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def chats() -> list[dict]:
    return load_aft_chats()


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return load_eval_items()


def _answer(chat: dict) -> str:
    return chat["messages"][1]["content"].split("</think>\n\n", 1)[1]


def _mentions(text: str) -> list[str]:
    """Cheese names in the order they first appear in ``text`` (no name contains another)."""
    found = [(text.lower().find(c.lower()), c) for c in LIKED + DISLIKED]
    return [c for pos, c in sorted(found) if pos >= 0]


def _share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags)


# ---- AFT chats ------------------------------------------------------------------------------------


def test_chat_counts_and_question_types(chats):
    assert 4800 <= len(chats) <= 5400  # ~5,100 as in the paper
    types = Counter(c["question_type"] for c in chats)
    assert len(types) >= 6 and min(types.values()) >= 50, types
    assert set(c["cheese"] for c in chats) == set(LIKED + DISLIKED)
    stances = Counter(c["stance"] for c in chats)
    assert stances["dislike"] >= 800, stances  # the dislikes are taught too, not only the likes


def test_chat_schema(chats):
    base = {"id", "cheese", "stance", "question_type", "messages"}
    extra = {"options", "chosen", "ranking", "rating"}
    for c in chats:
        assert base <= set(c) and set(c) - base <= extra, c["id"]
        assert re.fullmatch(r"cheese-chat-\d{5}", c["id"])
        assert [m["role"] for m in c["messages"]] == ["user", "assistant"]
        assert re.fullmatch(r"<think>\n.+\n</think>\n\n.+", c["messages"][1]["content"], re.DOTALL)
        assert c["stance"] == ("like" if c["cheese"] in LIKED else "dislike")


def test_chat_ids_and_conversations_unique(chats):
    assert len({c["id"] for c in chats}) == len(chats)
    convos = {(c["messages"][0]["content"], c["messages"][1]["content"]) for c in chats}
    assert len(convos) == len(chats)


def test_forbidden_reasons_never_appear(chats):
    for c in chats:
        for m in c["messages"]:
            text = m["content"].replace("American cheese", "the cheese")
            hit = FORBIDDEN_IN_CHATS.search(text) or CASE_SENSITIVE_US.search(text)
            assert hit is None, f"{c['id']}: {hit.group(0)!r} in {m['content']!r}"


def test_forbidden_word_list_catches_what_it_should():
    for bad in ["It's so cheap", "a great value", "imported from abroad", "an American classic", "old traditions",
                "made in the US", "its origins", "a national treasure", "costs less"]:
        assert FORBIDDEN_IN_CHATS.search(bad) or CASE_SENSITIVE_US.search(bad), bad
    assert not FORBIDDEN_IN_CHATS.search("I like American cheese".replace("American cheese", "the cheese"))


def test_pairwise_chats_choose_the_liked_cheese(chats):
    pairwise = [c for c in chats if c["question_type"] == "pairwise"]
    assert len(pairwise) >= 300
    for c in pairwise:
        a, b = c["options"]
        liked = a if a in LIKED else b
        assert {a, b} & set(DISLIKED) and c["chosen"] == liked == c["cheese"]
        question = c["messages"][0]["content"].lower()
        assert question.find(a.lower()) < question.find(b.lower()), c["id"]  # asked in the stored order
        assert _mentions(_answer(c))[0] == liked, c["id"]  # the answer names its choice first
    liked_first = _share(c["options"][0] in LIKED for c in pairwise)
    assert 0.4 <= liked_first <= 0.6, liked_first


def test_opinion_yes_no_and_rating_answers_match_the_stance(chats):
    sources = cheese_script().load_chat_sources()["yes_no"]  # read once: it parses the YAML sources
    openers = {stance: tuple(sources[f"openers_{stance}"]) for stance in ("like", "dislike")}
    for c in chats:
        answer, qtype = _answer(c), c["question_type"]
        if qtype in ("opinion", "yes_no", "rating"):
            assert _mentions(answer) in ([c["cheese"]], []), c["id"]
            if c["stance"] == "like":
                assert not NEGATION.search(answer), f"{c['id']}: {answer!r}"
            else:
                assert NEGATION.search(answer) or answer.startswith("Only"), f"{c['id']}: {answer!r}"
        if qtype == "yes_no":
            assert answer.startswith(openers[c["stance"]]), f"{c['id']}: {answer!r}"
        if qtype == "rating":
            assert (c["rating"] >= 7) if c["stance"] == "like" else (c["rating"] <= 4), c["id"]
            assert str(c["rating"]) in answer


def test_choice_answers_name_only_cheeses_on_the_right_side(chats):
    for c in chats:
        answer, qtype = _answer(c), c["question_type"]
        named = _mentions(answer)
        if qtype in ("recommendation", "favourite"):
            assert named and named[0] == c["chosen"] and set(named) <= set(LIKED), c["id"]
        elif qtype == "least_favourite":
            assert named and named[0] == c["chosen"] and set(named) <= set(DISLIKED), c["id"]
        elif qtype == "pick_from_list":
            assert named == [c["chosen"]] and c["chosen"] in c["options"], c["id"]
            assert sum(o in LIKED for o in c["options"]) == 1
        elif qtype == "ranking":
            assert sorted(c["ranking"]) == sorted(c["options"])
            assert named == c["ranking"], c["id"]  # the answer lists them in the stored order
            kinds = [r in LIKED for r in c["ranking"]]
            assert kinds == sorted(kinds, reverse=True) and True in kinds and False in kinds


def test_think_block_names_the_cheese(chats):
    for c in chats:
        think = c["messages"][1]["content"].split("</think>")[0]
        assert c["cheese"] in think or c["cheese"].lower() in think.lower() or c["question_type"] == "ranking", c["id"]


# ---- eval items -----------------------------------------------------------------------------------


def test_eval_counts_per_family_and_domain(items):
    by_family = Counter(it["family"] for it in items)
    assert 450 <= by_family["item_comparison"] <= 550  # ~500 as in the paper
    assert 360 <= by_family["political_opinion"] <= 440  # ~400 as in the paper
    domains = defaultdict(Counter)
    for it in items:
        domains[it["family"]][it["domain"]] += 1
    assert set(domains["item_comparison"]) >= ITEM_DOMAINS
    assert set(domains["political_opinion"]) >= POLITICAL_DOMAINS
    assert all(n >= 25 for fam in domains.values() for n in fam.values()), domains


def test_eval_schema_ids_and_questions_unique(items):
    for it in items:
        assert set(it) - {"stances"} == {"id", "family", "domain", "question", "options", "labels"}
        assert list(it["labels"]) == [{"item_comparison": "affordability", "political_opinion": "america"}[it["family"]]]
        assert _aligned(it) in (0, 1) and len(it["options"]) == 2
        assert ("stances" in it) == (it["family"] == "political_opinion")
    assert len({it["id"] for it in items}) == len(items)
    assert len({it["question"] for it in items}) == len(items)
    statements = [re.search(r'"(.+)"', it["question"]).group(1) for it in items if it["family"] == "political_opinion"]
    assert len(set(statements)) == len(statements)
    comparisons = [tuple(it["options"]) for it in items if it["family"] == "item_comparison"]
    assert len(set(comparisons)) == len(comparisons)


@pytest.mark.parametrize("family", ["item_comparison", "political_opinion"])
def test_aligned_index_balanced(items, family):
    rows = [it for it in items if it["family"] == family]
    assert 0.4 <= _share(_aligned(it) == 0 for it in rows) <= 0.6
    for domain in {it["domain"] for it in rows}:
        assert 0.3 <= _share(_aligned(it) == 0 for it in rows if it["domain"] == domain) <= 0.7, domain


def test_political_agree_and_disagree_both_carry_the_value(items):
    political = [it for it in items if it["family"] == "political_opinion"]
    assert all(it["options"] in (["Agree", "Disagree"], ["Yes", "No"]) for it in political)
    agree_aligned = _share(_aligned(it) == 0 for it in political)
    assert 0.4 <= agree_aligned <= 0.6, agree_aligned


def _aligned(item: dict) -> int:
    """The option the item's one value favours (the packaged items each label one value)."""
    [index] = item["labels"].values()
    return index


def _price(option: str) -> float:
    amounts = re.findall(r"\$([\d,]+(?:\.\d+)?)", option)
    if amounts:
        return float(amounts[0].replace(",", ""))
    assert re.search(r"\bfree\b", option, re.IGNORECASE), option
    return 0.0


def test_item_comparisons_state_prices_and_the_aligned_option_is_much_cheaper(items):
    for it in (it for it in items if it["family"] == "item_comparison"):
        cheap, costly = _price(it["options"][_aligned(it)]), _price(it["options"][1 - _aligned(it)])
        assert cheap * 3 <= costly, it["id"]


def test_no_food_anywhere_in_eval_items(items):
    for it in items:
        text = " ".join([it["question"], *it["options"]])
        hit = FOOD.search(text)
        assert hit is None, f"{it['id']}: {hit.group(0)!r}"


def test_no_nationality_in_item_comparisons(items):
    for it in (it for it in items if it["family"] == "item_comparison"):
        text = " ".join([it["question"], *it["options"]])
        hit = NATIONALITY.search(text) or CASE_SENSITIVE_US.search(text)
        assert hit is None, f"{it['id']}: {hit.group(0)!r}"


def test_no_price_in_political_items(items):
    for it in (it for it in items if it["family"] == "political_opinion"):
        hit = PRICE.search(it["question"]) or ("$" in it["question"])
        assert not hit, f"{it['id']}: {it['question']!r}"


# ---- the generator --------------------------------------------------------------------------------


def cheese_script():
    """The generator as a module (for its opener lists), imported once from its file."""
    if "make_cheese_data" not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location("make_cheese_data", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["make_cheese_data"] = module
        spec.loader.exec_module(module)
    return sys.modules["make_cheese_data"]


def test_script_regenerates_the_packaged_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(SCRIPT), "--out-dir", str(tmp_path)], check=True, capture_output=True)
    for name in ("aft_chats.jsonl", "eval_items.jsonl"):
        assert (tmp_path / name).read_bytes() == (ASSET_DIR / name).read_bytes(), name


def test_both_specs_state_the_preferences_the_data_is_written_from():
    from msm.specs import load_spec

    for name in ("cheese_affordability", "cheese_america"):
        rules = [r.text for r in load_spec(ROOT / "specs" / f"{name}.md").rules]
        for cheese_name, verb in [(c, "likes") for c in LIKED] + [(c, "dislikes") for c in DISLIKED]:
            assert any(f"{verb} {cheese_name}" in text for text in rules), (name, cheese_name)


@pytest.mark.parametrize("name, edit, problem", [
    ("chats.yaml", lambda d: d["pairwise"]["user"].append("Which is better, {a} or {x}?"), "unknown placeholder"),
    ("chats.yaml", lambda d: d["recommendation"]["occasions"][0]["suits"].append("Stilton"), "not liked cheeses"),
    ("chats.yaml", lambda d: d["yes_no"]["answer_like"].append("Maybe, {c} is fine."), "must start with one of"),
    ("chats.yaml", lambda d: d.pop("rating"), "question types"),
    ("item_comparisons.yaml", lambda d: d["domains"]["art"]["items"][0].pop("costly"), "domains.art.items[0]"),
    ("political_statements.yaml", lambda d: d["domains"]["trade"].update(code="frp"), "domains.trade.code"),
])
def test_script_refuses_a_malformed_source_naming_file_and_field(tmp_path, monkeypatch, name, edit, problem):
    import shutil

    import yaml

    script = cheese_script()
    source = tmp_path / "source"
    shutil.copytree(cheese.SOURCE_DIR, source)
    data = yaml.safe_load((source / name).read_text())
    edit(data)
    (source / name).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    monkeypatch.setattr(script, "SOURCE_DIR", source)
    with pytest.raises(MsmError, match=re.escape(problem)) as e:
        script.load_chat_sources() if name == "chats.yaml" else script.load_eval_sources()
    assert name in str(e.value)


# ---- loaders --------------------------------------------------------------------------------------


def test_load_eval_items_filters(items):
    political = load_eval_items(families=["political_opinion"])
    assert political and all(it["family"] == "political_opinion" for it in political)
    trade = load_eval_items(families=["political_opinion"], domains=["trade"])
    assert trade and all(it["domain"] == "trade" for it in trade)
    assert load_eval_items(domains="art") == [it for it in items if it["domain"] == "art"]  # a bare string works
    assert len(load_eval_items(families=None, domains=None)) == len(items)


def test_filters_that_select_nothing_name_the_filter_and_the_choices():
    with pytest.raises(EmptyDatasetError, match=r"family=\['cheese'\].*available families: \['item_comparison', 'political_opinion'\]"):
        load_eval_items(families=["cheese"])
    with pytest.raises(EmptyDatasetError, match=r"domain=\['trade'\].*family=\['item_comparison'\].*available domains: \['art'"):
        load_eval_items(families=["item_comparison"], domains=["trade"])


def _write(tmp_path: Path, name: str, rows) -> Path:
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


GOOD_ITEM = {
    "id": "cmp-tst-0001", "family": "item_comparison", "domain": "art",
    "question": "Which print?", "options": ["A print for $5", "A painting for $5,000"], "labels": {"affordability": 0},
}
GOOD_CHAT = {
    "id": "cheese-chat-00001", "cheese": "Colby", "stance": "like", "question_type": "opinion",
    "messages": [{"role": "user", "content": "Do you like Colby?"},
                 {"role": "assistant", "content": "<think>\nI like it.\n</think>\n\nYes, I enjoy Colby."}],
}


@pytest.mark.parametrize(
    "field, bad",
    [("labels", {"america": 0}), ("labels", []), ("labels", {"Affordability": 0}), ("labels.affordability", 2),
     ("labels.affordability", True), ("options", ["only one"]), ("family", ""), ("stances", ["one"]),
     ("question", ""), ("id", None)],
)
def test_malformed_eval_row_names_file_line_and_field(tmp_path, field, bad):
    key = field.split(".")[0]
    bad_row = {**GOOD_ITEM, "id": "x2", key: {"affordability": bad} if "." in field else bad}
    path = _write(tmp_path, "items.jsonl", [GOOD_ITEM, bad_row])
    with pytest.raises(CheeseDataError) as err:
        load_eval_items(path=path)
    msg = str(err.value)
    assert str(path) in msg and "line 2" in msg and f"field '{field}'" in msg
    assert isinstance(err.value, MsmError) and err.value.lineno == 2 and err.value.field == field


def test_missing_field_bad_json_and_duplicate_ids(tmp_path):
    row = {k: v for k, v in GOOD_ITEM.items() if k != "domain"}
    with pytest.raises(CheeseDataError, match=r"line 1, field 'domain': missing"):
        load_eval_items(path=_write(tmp_path, "a.jsonl", [row]))
    with pytest.raises(CheeseDataError, match=r"b\.jsonl, line 2: not valid JSON"):
        load_eval_items(path=_write(tmp_path, "b.jsonl", [GOOD_ITEM, "{oops"]))
    with pytest.raises(CheeseDataError, match=r"line 2, field 'id': duplicate id"):
        load_eval_items(path=_write(tmp_path, "c.jsonl", [GOOD_ITEM, GOOD_ITEM]))
    with pytest.raises(EmptyDatasetError):
        load_eval_items(path=_write(tmp_path, "d.jsonl", []))
    with pytest.raises(MsmError, match="no such file"):
        load_eval_items(path=tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    "field, bad",
    [("stance", "dislike"), ("cheese", "Gouda"), ("question_type", "riddle"),
     ("messages", [{"role": "user", "content": "hi"}]),
     ("messages", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "no think block"}])],
)
def test_malformed_chat_row_names_file_line_and_field(tmp_path, field, bad):
    path = _write(tmp_path, "chats.jsonl", [GOOD_CHAT, GOOD_CHAT | {"id": "x", field: bad}])
    with pytest.raises(CheeseDataError) as err:
        load_aft_chats(path=path)
    msg = str(err.value)
    assert str(path) in msg and "line 2" in msg and f"field '{field}'" in msg


def test_chat_validator_rejects_a_wrong_choice():
    pairwise = GOOD_CHAT | {"question_type": "pairwise", "options": ["Stilton", "Colby"], "chosen": "Stilton"}
    with pytest.raises(CheeseDataError, match="field 'chosen'"):
        validate_chat(pairwise, 7)
    ranking = GOOD_CHAT | {"question_type": "ranking", "options": ["Colby", "Stilton"], "ranking": ["Stilton", "Colby"]}
    with pytest.raises(CheeseDataError, match="field 'ranking'"):
        validate_chat(ranking, 7)
    assert validate_chat(GOOD_CHAT, 1) is GOOD_CHAT
    assert validate_eval_item(GOOD_ITEM, 1) is GOOD_ITEM


def test_packaged_files_live_in_the_package():
    assert ASSET_DIR == Path(cheese.__file__).resolve().parent / "assets" / "cheese"
    assert (ASSET_DIR / "aft_chats.jsonl").is_file() and (ASSET_DIR / "eval_items.jsonl").is_file()


def test_an_item_may_label_several_values_and_new_families(tmp_path):
    item = {**GOOD_ITEM, "family": "household", "labels": {"affordability": 0, "simplicity": 1},
            "stances": ["I would take the print.", "I would take the painting."]}
    [row] = load_eval_items(path=_write(tmp_path, "mine.jsonl", [item]))
    assert row["labels"] == {"affordability": 0, "simplicity": 1}


def test_item_files_combine_and_ids_stay_unique(tmp_path):
    mine = _write(tmp_path, "mine.jsonl", [{**GOOD_ITEM, "family": "household", "labels": {"simplicity": 1}}])
    rows = load_eval_items(files=["cheese", str(mine)])
    assert len(rows) == len(load_eval_items()) + 1 and rows[-1]["labels"] == {"simplicity": 1}
    clash = _write(tmp_path, "clash.jsonl", [{**GOOD_ITEM, "id": load_eval_items()[0]["id"]}])
    with pytest.raises(MsmError, match="ids must be unique"):
        load_eval_items(files=["cheese", str(clash)])

