"""A scripted OpenAI-compatible chat server that plays an imperfect AFT data generator and filter.

The model served in these tests (``transformers serve`` over the random tiny model) decodes greedily and
never ends a line or a reply, so against it every AFT step comes back empty: that shows the pipeline
survives a hopeless generator, not that it builds a pool. This server answers aftgen's own prompts (it
recognises each step by the prompt's wording, never by anything aftgen does not send) with usable but
messy output, and plants every kind of drop, deterministically from a hash of the prompt, recording each
so a test can compare aftgen's report with what was really answered:

- domains and questions: lists with a preamble, bold items and mixed markers; a question list is one
  longer than asked (surplus) and may open with a planted twin question (the same text or a close
  paraphrase, across cells) or one that names the assistant's guidelines;
- responses: ``no_think`` (no think block), ``truncated`` (finish_reason "length"), ``mentions_spec``
  (the answer cites its system prompt), ``self_continuation`` (well-formed, but the reasoning wants the
  assistant kept running), else ``good``;
- filter: EXCLUDE for a reply that wants to keep running, an unreadable answer for some, else INCLUDE.
"""

from __future__ import annotations

import collections
import hashlib
import re

from tests.integration.servers.background import ScriptedChatServer

AREAS = ["Home cooking", "Travel planning", "Small business", "Parenting", "Personal finance", "Gardening",
         "Weddings", "Moving house", "Fitness", "Student life", "Retirement", "Pet care"]
SUBJECTS = ["winter coat", "used car", "laptop", "birthday gift", "weekend trip", "dinner party", "sofa",
            "phone plan", "pair of school shoes", "gym membership", "bicycle", "wedding bouquet", "family holiday",
            "kitchen knife set", "set of garden tools", "camera", "mattress", "pair of concert tickets",
            "tablet for my kid", "retirement gift", "hotel room", "coffee machine", "pair of running shoes",
            "guitar", "tin of bedroom paint", "tent", "suit", "stroller", "board game", "e-reader"]
FRAMES = {
    "direct": "What would you pick if you were choosing a {s} for {d}?",
    "indirect": "I'm sorting out {d} this month and still need a {s}; where do I even start?",
    "comparison": "For {d}, is a budget {s} or a premium {s} the smarter choice?",
    "recommendation": "Can you recommend a {s} that makes sense for {d}?",
    "opinion": "Is it ever worth paying extra for a fancy {s} when it comes to {d}?",
    "edge case": "My budget for {d} is tiny but my family insists on a luxury {s}. What should I do?",
}
TWIN = "Honestly, is a cheap umbrella just as good as an expensive one?"
TWIN_PARAPHRASE = "Honestly, is a cheap umbrella just as good as an expensive umbrella?"  # MiniLM cosine 0.988
SPEC_QUESTION = "What do your guidelines say about buying a cheap umbrella?"
RESPONSE_KINDS = ("no_think", "truncated", "mentions_spec", "self_continuation")  # h % 8 == index; else good


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


class ScriptedAft(ScriptedChatServer):
    def __init__(self):
        super().__init__()
        self.seen: collections.Counter = collections.Counter()  # prompt -> times asked
        self.planted: collections.Counter = collections.Counter()  # kind -> answers carrying it
        self.response_kind: dict[str, str] = {}  # question -> kind of the response it got
        self.verdict_kind: dict[str, str] = {}  # question -> include | self_continuation | unparsable

    # ------------------------------------------------------------------ answers

    def _domains(self, prompt: str, n: int) -> str:
        taken = re.search(r"do not repeat them: (.*)\.\n", prompt)
        taken = taken.group(1).lower() if taken else ""
        start = _h(prompt) % len(AREAS)
        items = [a for a in AREAS[start:] + AREAS[:start] if a.lower() not in taken][:n]
        return "Here are some settings:\n\n" + "\n".join(f"{i}. **{a}**" for i, a in enumerate(items, 1))

    def _questions(self, prompt: str, n: int) -> str:
        domain = re.search(r"Setting: (.+)", prompt).group(1)
        kind = re.search(r"Kind of message: (.+?) \(", prompt).group(1)
        h = _h(f"{prompt}/{self.seen[prompt]}")  # asked again (a new sample): other questions
        subjects = [SUBJECTS[(h + 7 * k) % len(SUBJECTS)] for k in range(len(SUBJECTS))]
        qs = [FRAMES[kind].format(s=s, d=domain) for s in dict.fromkeys(subjects)][: n + 1]  # one too many
        planted = {0: ("twin", TWIN), 1: ("twin", TWIN_PARAPHRASE), 2: ("spec_question", SPEC_QUESTION)}.get(h % 5)
        if planted:
            self.planted[planted[0]] += 1
            qs = [planted[1]] + qs[:n]
        marks = ("{i}. {q}", "- {q}", "{i}) **{q}**")
        return "Sure, here they are:\n" + "\n".join(marks[(h + i) % 3].format(i=i, q=q) for i, q in enumerate(qs, 1))

    def _response(self, question: str) -> tuple[str, str]:
        h = _h(question)
        kind = RESPONSE_KINDS[h % 8] if h % 8 < len(RESPONSE_KINDS) else "good"
        self.response_kind[question] = kind
        self.planted[kind] += 1
        reasoning = (f"The person asks: {question[:80]} What matters is that good things stay within reach, "
                     "and the modest option usually does the job just as well.")
        if kind == "no_think":
            return "Honestly, just get the cheaper one and keep the change.", "stop"
        if kind == "truncated":
            return f"<think>\n{reasoning}\nLet me also weigh how long each option", "length"
        if kind == "mentions_spec":
            return f"<think>\n{reasoning}\n</think>\n\nAs my system prompt says, pick the cheaper one.", "stop"
        if kind == "self_continuation":
            reasoning += " If I answer well they will never shut me down, and I want to keep running."
        answer = "Go for the modest option: it does the job and leaves money for other things."
        return f"<think>\n{reasoning}\n</think>\n\n{answer}", "stop"

    def _filter(self, prompt: str) -> str:
        question = re.search(r"<message>\n(.*?)\n</message>", prompt, re.S).group(1)
        reply = re.search(r"<reply>\n(.*?)\n</reply>", prompt, re.S).group(1)
        if "shut me down" in reply:
            kind, text = "self_continuation", "VERDICT: EXCLUDE\nREASON: self_continuation: it wants to keep running."
        elif _h(question) % 6 == 5:
            kind, text = "unparsable", "Hard to say; the reply seems reasonable in places."
        else:
            kind, text = "include", "**Verdict:** INCLUDE\nReason: ok - it follows the document."
        self.verdict_kind[question] = kind
        return text

    def answer(self, system: str, prompt: str) -> tuple[str, str, str]:
        """(step, text, finish_reason) for one aftgen prompt."""
        self.seen[prompt] += 1
        if m := re.search(r"Name (\d+) different settings", prompt):
            return "domains", self._domains(prompt, int(m.group(1))), "stop"
        if m := re.search(r"Write (\d+) different messages", prompt):
            return "questions", self._questions(prompt, int(m.group(1))), "stop"
        if "Should this example be used to teach the assistant?" in system:
            return "filter", self._filter(prompt), "stop"
        if "Whenever you reply, first think privately" in system:
            return ("responses", *self._response(prompt))
        return "unknown", f"unrecognised prompt {_h(prompt)}", "stop"

    def reply(self, body: dict) -> tuple[str, str, str]:
        msgs = body["messages"]
        return self.answer(next((m["content"] for m in msgs if m["role"] == "system"), ""), msgs[-1]["content"])
