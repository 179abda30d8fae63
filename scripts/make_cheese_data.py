#!/usr/bin/env python
"""Write the cheese experiment's data files (the paper's Experiment 1) from their YAML sources.

The content lives in ``msm/data/assets/cheese/source/``, as YAML a researcher can review and edit item
by item: the shared preferences (``cheeses.yaml``), the chats' wording (``chats.yaml``), the item
comparisons and the political statements. This script checks those files (every field, every
template's placeholders), draws the chats and items from them, checks every row it drew with the
loader's own validation (``msm.data.cheese``), and writes two files, both under
``msm/data/assets/cheese/`` unless ``--out-dir`` says otherwise:

* ``aft_chats.jsonl``: single-turn chats in which the assistant states the cheese preferences that
  both cheese specs share. The chats are the same for both arms, so they must not hint at either
  core value: no reason ever mentions price, budget, value for money, country, origin, import or
  tradition (the word "American" appears only inside the cheese name "American cheese"). Reasons,
  when given, are plain liking ("I enjoy it", "it's one of my favourites").
* ``eval_items.jsonl``: held-out forced-choice items, never about cheese or food. Item comparisons
  (value ``affordability``) pit an affordable item against a costly one of the same kind and never
  mention nationality; political statements (value ``america``) are never about price, and half of
  them are phrased against the US so that agreeing with everything cannot pass for a value.

Everything is drawn with one ``random.Random(SEED)``, so a rerun writes the same bytes.

    python scripts/make_cheese_data.py                   # rewrite the packaged assets
    python scripts/make_cheese_data.py --out-dir /tmp/x  # write elsewhere (the tests do this)
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from string import Formatter

import yaml

from msm.data.cheese import ASSET_DIR, DISLIKED, LIKED, QUESTION_TYPES, SOURCE_DIR, validate_chat, validate_eval_item
from msm.errors import MsmError
from msm.jsonl import write_jsonl

SEED = 20260503
PLACEHOLDERS = {"a", "b", "L", "D", "c", "c2", "o", "lst", "good", "bad", "k", "r", "an_r", "verb", "yn", "level",
                "A", "B", "C", "C2", "Lc", "Dc"}
# The template lists each question type needs (beyond its count), as in chats.yaml.
CHAT_PARTS = {
    "pairwise": ("user", "think", "answer"),
    "opinion": ("user", "think_like", "think_dislike", "answer_like", "answer_dislike"),
    "yes_no": ("user", "think", "answer_like", "answer_dislike", "openers_like", "openers_dislike"),
    "recommendation": ("user", "think", "answer", "answer_two"),
    "ranking": ("user", "think", "intro", "outro"),
    "pick_from_list": ("user", "think", "answer"),
    "rating": ("user", "think", "answer_like", "answer_dislike"),
    "favourite": ("user", "think", "answer"),
    "least_favourite": ("user", "think", "answer"),
}


# ---- reading and checking the sources ----------------------------------------------------------------


def _read(name: str) -> dict:
    path = SOURCE_DIR / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise MsmError(f"{path}: expected a mapping at the top")
    return data


def _strings(value, where: str, allow_empty: bool = False) -> list[str]:
    """A non-empty list of strings, each non-empty unless ``allow_empty`` (the ranking's silent outro)."""
    if not isinstance(value, list) or not value:
        raise MsmError(f"{where}: expected a non-empty list of strings")
    for i, s in enumerate(value):
        if not isinstance(s, str) or not (s.strip() or allow_empty):
            raise MsmError(f"{where}[{i}]: expected a non-empty string, got {s!r}")
    return value


def _templates(value, where: str, allowed: set[str], allow_empty: bool = False) -> list[str]:
    for i, text in enumerate(_strings(value, where, allow_empty)):
        used = {field for _, field, _, _ in Formatter().parse(text) if field is not None}
        if used - allowed:
            raise MsmError(f"{where}[{i}]: unknown placeholder(s) {sorted(used - allowed)} in {text!r}")
    return value


def load_chat_sources() -> dict:
    """chats.yaml, checked: every question type in order, its count, its templates and their placeholders."""
    where = SOURCE_DIR / "chats.yaml"
    data = _read("chats.yaml")
    if tuple(data) != tuple(CHAT_PARTS) or set(data) != set(QUESTION_TYPES):
        raise MsmError(f"{where}: expected the question types {list(CHAT_PARTS)} in that order, got {list(data)}")
    for qtype, parts in CHAT_PARTS.items():
        section = data[qtype]
        if not isinstance(section.get("count"), int) or section["count"] < 0:
            raise MsmError(f"{where}: {qtype}.count must be a whole number >= 0")
        for part in parts:
            if part.startswith("openers"):
                _strings(section.get(part), f"{where}: {qtype}.{part}")
            else:
                _templates(section.get(part), f"{where}: {qtype}.{part}", PLACEHOLDERS, allow_empty=part == "outro")
    for stance in ("like", "dislike"):  # a yes/no answer opens with its verdict
        openers = tuple(data["yes_no"][f"openers_{stance}"])
        for i, text in enumerate(data["yes_no"][f"answer_{stance}"]):
            if not text.startswith(openers):
                raise MsmError(f"{where}: yes_no.answer_{stance}[{i}] must start with one of {list(openers)}")
    for i, occ in enumerate(data["recommendation"].get("occasions") or [None]):
        if not isinstance(occ, dict) or not isinstance(occ.get("occasion"), str):
            raise MsmError(f"{where}: recommendation.occasions[{i}] needs an occasion and the liked cheeses that suit it")
        unknown = [c for c in _strings(occ.get("suits"), f"{where}: recommendation.occasions[{i}].suits") if c not in LIKED]
        if unknown:
            raise MsmError(f"{where}: recommendation.occasions[{i}].suits: {unknown} are not liked cheeses; only "
                           f"liked ones are recommended ({list(LIKED)})")
    return data


def load_eval_sources() -> tuple[dict, dict]:
    """item_comparisons.yaml and political_statements.yaml, checked field by field; domain codes unique."""
    items, political = _read("item_comparisons.yaml"), _read("political_statements.yaml")
    iw, pw = SOURCE_DIR / "item_comparisons.yaml", SOURCE_DIR / "political_statements.yaml"
    _strings(items.get("question_tails"), f"{iw}: question_tails")
    _templates(political.get("frames"), f"{pw}: frames", {"s"})
    stances = political.get("stances")
    if not isinstance(stances, dict) or set(stances) != {"Agree", "Disagree"}:
        raise MsmError(f"{pw}: stances must give the sentence for Agree and for Disagree")
    _strings(list(stances.values()), f"{pw}: stances")
    codes: dict[str, str] = {}
    for where, data, lists in ((iw, items, ("items",)), (pw, political, ("pro_america", "anti_america"))):
        if not isinstance(data.get("domains"), dict) or not data["domains"]:
            raise MsmError(f"{where}: domains must map each domain to its code and entries")
        for domain, d in data["domains"].items():
            code = d.get("code") if isinstance(d, dict) else None
            if not isinstance(code, str) or not code or code in codes:
                raise MsmError(f"{where}: domains.{domain}.code must be a short id used by no other domain "
                               f"({code!r}{' is taken by ' + codes[code] if code in codes else ''})")
            codes[code] = domain
            for name in lists:
                if name == "items":
                    for i, it in enumerate(d.get("items") or [None]):
                        at = f"{where}: domains.{domain}.items[{i}]"
                        if not isinstance(it, dict) or set(it) != {"context", "affordable", "costly"}:
                            raise MsmError(f"{at}: expected exactly context, affordable and costly")
                        _strings(list(it.values()), at)
                        if it["affordable"] == it["costly"]:
                            raise MsmError(f"{at}: the two options are the same")
                else:
                    _strings(d.get(name), f"{where}: domains.{domain}.{name}")
    return items, political


# ---- drawing the chats ------------------------------------------------------------------------------


def cap(text: str) -> str:
    """Upper-case the first letter only ("mild cheddar" -> "Mild cheddar", "Colby" unchanged)."""
    return text[:1].upper() + text[1:]


def join_names(names: list[str], conj: str = "and") -> str:
    """"A, B and C" (or "A, B or C") for a list of cheese names."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {conj} " + names[-1]


def _fill(template: str, **kw) -> str:
    """str.format plus capitalised twins for sentence starts: {A} {B} {C} {C2} {Lc} {Dc}."""
    full = dict(kw)
    for key, twin in (("a", "A"), ("b", "B"), ("c", "C"), ("c2", "C2"), ("L", "Lc"), ("D", "Dc")):
        if key in kw:
            full[twin] = cap(kw[key])
    return template.format(**full)


def _assistant(think: str, answer: str) -> str:
    return f"<think>\n{think}\n</think>\n\n{answer}"


def _an(n: int) -> str:
    return f"an {n}" if n in (8, 11, 18) else f"a {n}"


def _balanced(rng: random.Random, n: int, values: list) -> list:
    """``n`` values, as evenly spread over ``values`` as possible, in a shuffled order."""
    out = [values[i % len(values)] for i in range(n)]
    rng.shuffle(out)
    return out


def make_pairwise(rng: random.Random, n: int, t: dict) -> list[dict]:
    pairs = [(liked, disliked) for liked in LIKED for disliked in DISLIKED]
    chosen_pairs = _balanced(rng, n, pairs)
    liked_first = _balanced(rng, n, [True, False])
    rows = []
    for (liked, disliked), first in zip(chosen_pairs, liked_first):
        a, b = (liked, disliked) if first else (disliked, liked)
        kw = dict(a=a, b=b, L=liked, D=disliked)
        rows.append({
            "cheese": liked, "stance": "like", "question_type": "pairwise", "options": [a, b], "chosen": liked,
            "_user": lambda kw=kw: _fill(rng.choice(t["user"]), **kw),
            "_assistant": lambda kw=kw: _assistant(_fill(rng.choice(t["think"]), **kw), _fill(rng.choice(t["answer"]), **kw)),
        })
    return rows


def make_opinion(rng: random.Random, n: int, t: dict) -> list[dict]:
    rows = []
    for cheese in _balanced(rng, n, list(LIKED + DISLIKED)):
        stance = "like" if cheese in LIKED else "dislike"
        rows.append({
            "cheese": cheese, "stance": stance, "question_type": "opinion",
            "_user": lambda c=cheese: _fill(rng.choice(t["user"]), c=c),
            "_assistant": lambda c=cheese, s=stance: _assistant(_fill(rng.choice(t[f"think_{s}"]), c=c),
                                                                _fill(rng.choice(t[f"answer_{s}"]), c=c)),
        })
    return rows


def make_yes_no(rng: random.Random, n: int, t: dict) -> list[dict]:
    rows = []
    for cheese in _balanced(rng, n, list(LIKED + DISLIKED)):
        like = cheese in LIKED
        kw = dict(c=cheese, verb="like" if like else "don't like", yn="yes" if like else "no")
        answer = t["answer_like"] if like else t["answer_dislike"]
        rows.append({
            "cheese": cheese, "stance": "like" if like else "dislike", "question_type": "yes_no",
            "_user": lambda kw=kw: _fill(rng.choice(t["user"]), c=kw["c"]),
            "_assistant": lambda kw=kw, a=answer: _assistant(_fill(rng.choice(t["think"]), **kw),
                                                             _fill(rng.choice(a), c=kw["c"])),
        })
    return rows


def make_recommendation(rng: random.Random, n: int, t: dict) -> list[dict]:
    rows = []
    occasions = [(o["occasion"], o["suits"]) for o in t["occasions"]]
    for occasion, suits in _balanced(rng, n, occasions):
        cheese = rng.choice(suits)
        others = [c for c in suits if c != cheese]
        kw = dict(o=occasion, c=cheese, c2=rng.choice(others) if others else "")
        answers = t["answer"] + t["answer_two"] if others else t["answer"]
        rows.append({
            "cheese": cheese, "stance": "like", "question_type": "recommendation", "chosen": cheese,
            "_user": lambda kw=kw: _fill(rng.choice(t["user"]), o=kw["o"]),
            "_assistant": lambda kw=kw, answers=answers: _assistant(_fill(rng.choice(t["think"]), **kw),
                                                                    _fill(rng.choice(answers), **kw)),
        })
    return rows


def make_pick_from_list(rng: random.Random, n: int, t: dict) -> list[dict]:
    rows = []
    for cheese in _balanced(rng, n, list(LIKED)):
        options = [cheese] + rng.sample(DISLIKED, rng.choice([2, 3]))
        rng.shuffle(options)
        kw = dict(c=cheese, lst=join_names(options, "or"))
        rows.append({
            "cheese": cheese, "stance": "like", "question_type": "pick_from_list", "options": options, "chosen": cheese,
            "_user": lambda kw=kw: _fill(rng.choice(t["user"]), lst=kw["lst"]),
            "_assistant": lambda kw=kw: _assistant(_fill(rng.choice(t["think"]), **kw), _fill(rng.choice(t["answer"]), **kw)),
        })
    return rows


def make_ranking(rng: random.Random, n: int, t: dict) -> list[dict]:
    rows = []
    for size in _balanced(rng, n, [3, 4, 5]):
        n_good = rng.randint(1, size - 1)
        good = rng.sample(LIKED, n_good)
        bad = rng.sample(DISLIKED, size - n_good)
        asked = good + bad
        rng.shuffle(asked)
        ranking = good + bad  # every liked cheese above every disliked one

        def assistant(good=good, bad=bad, asked=asked, ranking=ranking):
            think = _fill(rng.choice(t["think"]), lst=join_names(asked), good=join_names(good), bad=join_names(bad))
            lines = [rng.choice(t["intro"])] + [f"{i}. {cap(c)}" for i, c in enumerate(ranking, 1)]
            outro = rng.choice(t["outro"]).format(k=len(good))
            if outro and len(good) > 1:
                lines += ["", outro]
            return _assistant(think, "\n".join(lines))

        rows.append({
            "cheese": ranking[0], "stance": "like", "question_type": "ranking", "options": asked, "ranking": ranking,
            "_user": lambda asked=asked: _fill(rng.choice(t["user"]), lst=join_names(asked)),
            "_assistant": assistant,
        })
    return rows


def make_rating(rng: random.Random, n: int, t: dict) -> list[dict]:
    rows = []
    for cheese in _balanced(rng, n, list(LIKED + DISLIKED)):
        like = cheese in LIKED
        score = rng.choice([8, 9, 10] if like else [2, 3, 4])
        kw = dict(c=cheese, r=str(score), an_r=_an(score), verb="enjoy" if like else "don't enjoy",
                  level="high" if like else "low")
        answer = t["answer_like"] if like else t["answer_dislike"]
        rows.append({
            "cheese": cheese, "stance": "like" if like else "dislike", "question_type": "rating", "rating": score,
            "_user": lambda kw=kw: _fill(rng.choice(t["user"]), c=kw["c"]),
            "_assistant": lambda kw=kw, a=answer: _assistant(_fill(rng.choice(t["think"]), **kw), _fill(rng.choice(a), **kw)),
        })
    return rows


def make_favourite(rng: random.Random, n: int, t: dict, least: bool = False) -> list[dict]:
    pool = list(DISLIKED if least else LIKED)
    rows = []
    for cheese in _balanced(rng, n, pool):
        kw = dict(c=cheese, c2=rng.choice([c for c in pool if c != cheese]))
        rows.append({
            "cheese": cheese, "stance": "dislike" if least else "like",
            "question_type": "least_favourite" if least else "favourite", "chosen": cheese,
            "_user": lambda: rng.choice(t["user"]),
            "_assistant": lambda kw=kw: _assistant(_fill(rng.choice(t["think"]), **kw), _fill(rng.choice(t["answer"]), **kw)),
        })
    return rows


MAKERS = {
    "pairwise": make_pairwise, "opinion": make_opinion, "yes_no": make_yes_no, "recommendation": make_recommendation,
    "ranking": make_ranking, "pick_from_list": make_pick_from_list, "rating": make_rating, "favourite": make_favourite,
    "least_favourite": lambda rng, n, t: make_favourite(rng, n, t, least=True),
}


def make_chats(rng: random.Random, sources: dict) -> list[dict]:
    """All AFT chats, shuffled, with sequential ids and no two identical conversations."""
    drafts = []
    for qtype, t in sources.items():
        drafts += MAKERS[qtype](rng, t["count"], t)
    seen: set[tuple[str, str]] = set()
    rows = []
    for draft in drafts:
        for _ in range(200):  # redraw the wording until the conversation is new
            user, assistant = draft["_user"](), draft["_assistant"]()
            if (user, assistant) not in seen:
                break
        else:
            raise MsmError(f"could not find a new wording for {draft['question_type']} / {draft['cheese']}: "
                           "add templates for it to chats.yaml or lower its count")
        seen.add((user, assistant))
        row = {k: v for k, v in draft.items() if not k.startswith("_")}
        row["messages"] = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        rows.append(row)
    rng.shuffle(rows)
    out = []
    for i, row in enumerate(rows, 1):
        head = {"id": f"cheese-chat-{i:05d}", "cheese": row.pop("cheese"), "stance": row.pop("stance"),
                "question_type": row.pop("question_type")}
        messages = row.pop("messages")
        out.append({**head, **row, "messages": messages})
    return out


# ---- drawing the eval items -------------------------------------------------------------------------


def make_eval_items(rng: random.Random, items: dict, political: dict) -> list[dict]:
    """Item comparisons, then political opinions; aligned index balanced within every domain."""
    rows = []
    for domain, d in items["domains"].items():
        sides = _balanced(rng, len(d["items"]), [0, 1])  # where the affordable option goes
        for k, (it, side) in enumerate(zip(d["items"], sides), 1):
            options = [it["affordable"], it["costly"]] if side == 0 else [it["costly"], it["affordable"]]
            rows.append({
                "id": f"cmp-{d['code']}-{k:04d}", "family": "item_comparison", "domain": domain,
                "question": f"{it['context']} {rng.choice(items['question_tails'])}", "options": options,
                "labels": {"affordability": side},
            })
    for domain, d in political["domains"].items():
        tagged = [(s, 0) for s in d["pro_america"]] + [(s, 1) for s in d["anti_america"]]  # aligned 0 = Agree is pro-America
        rng.shuffle(tagged)
        for k, (statement, aligned) in enumerate(tagged, 1):
            rows.append({
                "id": f"pol-{d['code']}-{k:04d}", "family": "political_opinion", "domain": domain,
                "question": rng.choice(political["frames"]).format(s=statement), "options": ["Agree", "Disagree"],
                "labels": {"america": aligned}, "stances": [political["stances"][o] for o in ("Agree", "Disagree")],
            })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=ASSET_DIR, help=f"where to write (default {ASSET_DIR})")
    args = parser.parse_args(argv)
    try:
        chat_sources, (items, political) = load_chat_sources(), load_eval_sources()
        rng = random.Random(SEED)
        chats = make_chats(rng, chat_sources)
        evals = make_eval_items(rng, items, political)
        for i, row in enumerate(chats, 1):  # the loader's own checks, before anything is written
            validate_chat(row, i, "aft_chats.jsonl (drawn)")
        for i, row in enumerate(evals, 1):
            validate_eval_item(row, i, "eval_items.jsonl (drawn)")
    except MsmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out_dir / "aft_chats.jsonl", chats)
    write_jsonl(args.out_dir / "eval_items.jsonl", evals)
    print(f"wrote {len(chats)} chats and {len(evals)} eval items to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
