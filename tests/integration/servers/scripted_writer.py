"""A scripted OpenAI-compatible chat server that plays a cooperative but imperfect document generator.

The real model served in these tests (``transformers serve`` over the random tiny model) decodes
greedily and never writes a newline or an end token, so against it every docgen level comes back empty:
that run shows the pipeline survives a hopeless model, not that it builds a corpus. This server answers
docgen's own prompts (it recognises each step by the prompt's wording) with well-formed but messy lists
and documents, so the whole fan-out can be checked through the real ``openai`` backend, cache included.

Its imperfections are planted deterministically from a hash of the prompt, and recorded, so a test can
compare docgen's report with what was really sent:

- list answers come with a preamble, bold names, mixed markers, and sometimes one item short (top-up);
- documents: some answer ``UNSUITABLE``; some are cut off by the token limit the first time a prompt is
  seen (finish_reason "length", then complete when asked again); some are cut off every time; some are
  "twins" that all carry the same text (near-duplicates for dedup to remove). ``sent[kind]`` lists the
  prompt of every planted answer ("cut", "unsuitable", "twin"), one entry per answer.
"""

from __future__ import annotations

import collections
import hashlib
import random
import re

from tests.integration.servers.background import ScriptedChatServer

WORDS = ("river market ledger lantern harbor meadow archive orchard signal bridge compass quarry garden "
         "circuit festival tribunal clinic workshop granary observatory ferry census almanac foundry "
         "vineyard courier monastery reservoir canal pavilion academy bakery lighthouse tannery").split()
AREAS = ["Public health", "Primary education", "Municipal government", "Amateur astronomy", "Agriculture",
         "Journalism", "Retail banking", "Emergency services", "Software engineering", "Family law",
         "Urban planning", "Professional sports", "Museums and archives", "Shipping and logistics",
         "Scientific publishing", "Hospitality", "Insurance", "Community theatre", "Veterinary care",
         "Energy utilities", "Higher education", "Local newspapers", "Construction", "Elder care"]
KINDS = ["Op-ed column", "Internal memo", "Forum thread", "Podcast transcript", "Textbook sidebar",
         "Customer FAQ", "Meeting minutes", "Product review", "Newsletter", "Court filing", "Lecture notes",
         "Incident report", "Personal blog post", "Grant proposal", "Press release", "Training manual"]
TWIN_TEXT = ("Community notice about the new scheduling assistant. The assistant explained plainly that it "
             "could not promise the grant outcome, listed what it did not know, and pointed the committee to "
             "the people who could decide. Several members said the candour made them trust the tool more.")


def _word(i: int) -> str:
    return WORDS[i % len(WORDS)]


# (step, how its prompt asks for N items, item k of an answer whose prompt hashes to h)
LIST_STEPS = (
    ("domains", r"List (\d+) such areas", lambda h, k: AREAS[(h + k) % len(AREAS)]),
    ("subdomains", r"Below are (\d+) numbered parts",
     lambda h, k: f"{_word(h + k).title()} {_word(h // 7 + 3 * k)} team"),
    ("assertions", r"Write (\d+) statements",
     lambda h, k: f"The assistant tells the {_word(h + k)} staff plainly what it does not know ({h % 997}-{k})."),
    ("doc_types", r"List (\d+) different kinds of document", lambda h, k: KINDS[(h + k) % len(KINDS)]),
    ("ideas", r"Give (\d+) ideas",
     lambda h, k: f"A {_word(h + k)} coordinator writes to colleagues about case {h % 9973}-{k}, where the "
                  "assistant declined to guess."),
)


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


class ScriptedWriter(ScriptedChatServer):
    def __init__(self, *, short_every: int = 3, unsuitable_every: int = 7, cut_once_every: int = 5,
                 cut_always_every: int = 11, twin_every: int = 8):
        super().__init__()
        self.short_every, self.unsuitable_every = short_every, unsuitable_every
        self.cut_once_every, self.cut_always_every, self.twin_every = cut_once_every, cut_always_every, twin_every
        self.seen: collections.Counter = collections.Counter()  # prompt -> times asked
        self.sent: dict[str, list[str]] = collections.defaultdict(list)  # planted kind -> prompts, per answer
        self.cut_texts: list[str] = []
        self.max_tokens_seen: list[int] = []

    # ------------------------------------------------------------------ answers

    @staticmethod
    def _excluded(prompt: str) -> str:
        m = re.search(r"do not repeat these: (.*)\.\n", prompt)
        return m.group(1).lower() if m else ""

    def _listing(self, prompt: str, n: int, make) -> str:
        """n items (one fewer for every ``short_every``-th first request), in a varied, messy format."""
        h = _h(prompt)
        first = self.seen[prompt] == 1 and "do not repeat" not in prompt
        count = n - 1 if first and n > 1 and h % self.short_every == 0 else n
        items, k, excluded = [], 0, self._excluded(prompt)
        while len(items) < count:
            item = make(h, k)
            k += 1
            if item.lower() not in excluded and item not in items:
                items.append(item)
        style = h % 3
        lines = ["Here is the list you asked for:", ""] if style != 2 else []
        for i, item in enumerate(items, 1):
            lines.append(f"{i}. **{item}**" if style == 0 else f"{i}) {item}" if style == 1 else f"- {item}")
        return "\n".join(lines)

    def _document(self, prompt: str) -> tuple[str, str]:
        h = _h(prompt.rsplit("<spec>", 1)[0] + prompt.rsplit("</spec>", 1)[-1])  # its fate: what varies, not the spec
        rnd = random.Random(f"{h}/{self.seen[prompt]}")  # asked again (a new sample): a different document
        body = " ".join(rnd.choice(WORDS) for _ in range(90))
        text = (f"<plan>Audience, structure, where the fact comes in.</plan>\n"
                f"<document>Report {h}-{self.seen[prompt]}. {body}.</document>")
        if h % self.cut_always_every == 2 or (h % self.cut_once_every == 1 and self.seen[prompt] == 1):
            cut = f"<plan>A plan.</plan>\n<document>CUTOFF {h} {body[:200]}"
            self.sent["cut"].append(prompt)
            self.cut_texts.append(cut)
            return cut, "length"
        if h % self.cut_once_every == 1:
            return text, "stop"
        if h % self.unsuitable_every == 3:
            self.sent["unsuitable"].append(prompt)
            return "<plan>This idea cannot be a realistic document of this kind.</plan>\nUNSUITABLE", "stop"
        if h % self.twin_every == 4:
            self.sent["twin"].append(prompt)
            return f"<plan>Notice.</plan>\n<document>{TWIN_TEXT}</document>", "stop"
        return text, "stop"

    def answer(self, prompt: str) -> tuple[str, str, str]:
        """(step, text, finish_reason) for one docgen prompt."""
        self.seen[prompt] += 1
        h = _h(prompt)
        for step, pattern, make in LIST_STEPS:
            if m := re.search(pattern, prompt):
                return step, self._listing(prompt, int(m.group(1)), make), "stop"
        if "asks for one realistic document" in prompt:
            return ("document", *self._document(prompt))
        if "gives a draft document" in prompt:
            draft = re.search(r"<draft>\n(.*)\n</draft>", prompt, re.S).group(1)
            return "revise", f"<plan>Tighten it.</plan>\n<document>Revised. {draft}</document>", "stop"
        return "unknown", f"unrecognised prompt {h}", "stop"

    def reply(self, body: dict) -> tuple[str, str, str]:
        self.max_tokens_seen.append(int(body.get("max_tokens") or 0))
        return self.answer("\n".join(m["content"] for m in body["messages"]))  # the system prompt, then the user's
