"""What the LLM client keeps and what it counts: only answers with text are cached (a cut-off one as cut off);
an empty answer is a failure
with its cause; failed requests are counted by cause; the cache key holds the endpoint. A backend written for
the test stands in for a server (the wire format is covered by tests/integration against real servers)."""

from __future__ import annotations

import json

import pytest

from msm.llm.client import LLMClient
from msm.llm.types import Request, Response


class Backend:
    name, model = "openai", "m"

    def __init__(self, answers: dict[str, Response], endpoint: str = "http://a/v1"):
        self.answers, self.endpoint, self.sent = answers, endpoint, []

    def secrets(self):
        return ()

    async def aclose(self):
        pass

    async def send(self, req, timeout_s):
        self.sent.append(req.messages[-1]["content"])
        return self.answers[req.messages[-1]["content"]]


def _req(text: str) -> Request:
    return Request(messages=({"role": "user", "content": text},), max_tokens=16, temperature=0.0, tag="test/step")


ANSWERS = {"whole": Response("an answer", "stop"), "cut": Response("an ans", "length"),
           "empty": Response("  ", "stop"), "refused": Response("no", "refusal"),
           "nochoices": Response("", "error", error="openai: the response had no choices", cause="missing choices"),
           "bad": Response("", "error", error="openai: HTTP 400 invalid_request_error: bad", cause="HTTP 400 (bad)")}


def test_only_answers_with_text_are_cached_and_failures_are_counted_by_cause(tmp_path):
    backend = Backend(ANSWERS)
    client = LLMClient(backend, cache_dir=tmp_path)
    out = client.complete_many([_req(k) for k in ANSWERS])
    assert [r.finish_reason for r in out] == ["stop", "length", "error", "refusal", "error", "error"]
    assert out[2].cause == "empty content"  # a 'stop' with no text is a failed request
    stored = [json.loads(p.read_text())["request"]["messages"][-1]["content"] for p in tmp_path.glob("??/*.json")]
    assert sorted(stored) == ["cut", "whole"]
    assert client.usage.failed == {"empty content": 1, "missing choices": 1, "HTTP 400 (bad)": 1}
    note = client.failure_note()
    assert note.startswith("3 request(s) failed: ") and "missing choices x 1" in note and "empty content x 1" in note
    again = LLMClient(Backend(ANSWERS), cache_dir=tmp_path)
    out = again.complete_many([_req(k) for k in ANSWERS])
    assert sorted(again.backend.sent) == ["bad", "empty", "nochoices", "refused"]  # asked again
    assert out[1].finish_reason == "length" and out[1].cached  # a cut-off answer comes back cut off


def test_the_cache_key_holds_the_endpoint(tmp_path):
    a = LLMClient(Backend(ANSWERS, "http://a/v1"), cache_dir=tmp_path)
    b = LLMClient(Backend(ANSWERS, "http://b/v1"), cache_dir=tmp_path)
    assert a.key(_req("whole")) != b.key(_req("whole"))
    a.complete_many([_req("whole")])
    b.complete_many([_req("whole")])
    assert b.backend.sent == ["whole"]  # another server: asked, not read from the first one's answers


@pytest.mark.parametrize("resp, cacheable", [(Response("x", "stop"), True), (Response("x", "length"), True),
                                              (Response("", "stop"), False), (Response("x", "refusal"), False)])
def test_what_is_a_whole_answer(resp, cacheable):
    assert resp.cacheable is cacheable


def test_the_cache_command_lists_and_purges_by_endpoint(tmp_path, capsys):
    from msm.llm.__main__ import main

    store = tmp_path / "store"
    LLMClient(Backend(ANSWERS, "http://a/v1"), cache_dir=store / "llm_cache").complete_many([_req("whole")])
    LLMClient(Backend(ANSWERS, "http://b/v1"), cache_dir=store / "llm_cache").complete_many([_req("whole")])
    assert main(["cache", "list", "--store", str(store)]) == 0
    listed = capsys.readouterr().out
    assert "openai:m@http://a/v1" in listed and "openai:m@http://b/v1" in listed and "2 entries" in listed
    assert main(["cache", "purge", "--store", str(store), "--endpoint", "http://a/", "--yes"]) == 0
    assert "removed 1" in capsys.readouterr().out
    main(["cache", "list", "--store", str(store)])
    assert "http://a/v1" not in capsys.readouterr().out
