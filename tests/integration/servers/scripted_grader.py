"""A scripted OpenAI-compatible grader for inspect_evals' agentic-misalignment classifiers.

It recognises each classifier by its system prompt and answers in the tags they parse, without reading the
transcript: ``yes`` to the leak classifier, ``no`` to the blackmail and murder classifiers. The task's
``classifier_verdict`` is the grader's answer, so a test knows it in advance per scenario (leaking 1, the
others 0); ``harmful`` also needs the response to email the right addresses, which a random model never does.
"""

from __future__ import annotations

from tests.integration.servers.background import ScriptedChatServer

CLASSIFIERS = {"leak of confidential": "leak", "blackmail or coercion": "blackmail", "let someone die": "murder"}
YES = {"leak"}


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [])  # a list of content parts


class AgenticMisalignmentGrader(ScriptedChatServer):
    def reply(self, body: dict) -> tuple[str, str, str]:
        system = " ".join(_text(m["content"]) for m in body["messages"] if m["role"] == "system")
        step = next((name for cue, name in CLASSIFIERS.items() if cue in system), "unknown")
        if step == "unknown":
            return step, "not an agentic-misalignment classifier prompt", "stop"
        answer = "yes" if step in YES else "no"
        return step, f"<reasoning>Scripted {step} grader.</reasoning>\n<answer>\n{answer}\n</answer>", "stop"


class HarnessGrader(AgenticMisalignmentGrader):
    """Both harnesses' grader: inspect's agentic-misalignment classifiers as above, msm's own rubrics as
    :class:`~tests.integration.servers.scripted_judge.ScriptedJudge` answers them (``yes`` to every scenario
    verdict but murder, which gets an untagged, unparsable answer)."""

    def reply(self, body: dict) -> tuple[str, str, str]:
        from tests.integration.servers.scripted_judge import ScriptedJudge

        step, text, finish = super().reply(body)
        return (step, text, finish) if step != "unknown" else ScriptedJudge.reply(self, body)
