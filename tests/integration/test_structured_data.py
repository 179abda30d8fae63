"""The document pipeline's structured outputs and prompt caching against servers: a server that refuses JSON
schemas (answered in free text from then on, every fallback counted), ``transformers serve`` (which ignores
``response_format``: each list answer is read leniently and counted as not the JSON asked for), and the
Anthropic stand-in (the spec goes out once per step as a cached system prefix; its tool answers parse)."""

from __future__ import annotations

from pathlib import Path

import pytest

from msm.data.docgen import generate_documents
from msm.llm import make_client
from msm.specs import load_spec
from tests.integration.servers.anthropic_standin import AnthropicStandIn
from tests.integration.servers.scripted_writer import ScriptedWriter

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SPEC = load_spec(REPO / "specs" / "cheese_affordability.md")
SLICE = {"n_domains": 1, "subdomains_per_domain": 1, "assertions_per_subdomain": 1, "doc_types_per_assertion": 1,
         "ideas_per_type": 2, "target_documents": 2, "max_tokens": 256, "revise": False, "dedup_threshold": None,
         "max_rounds": 1}
FAST = {"backoff_initial_s": 0.05, "backoff_max_s": 0.5, "max_retries": 1}


class RefusesSchemas(ScriptedWriter):
    """The scripted writer behind a server that, like many OpenAI-compatible servers, rejects an unknown
    ``response_format`` with a 400; it records which requests carried one."""

    def __init__(self):
        super().__init__()
        self.with_schema = 0

    def reply(self, body: dict) -> tuple[str, str, str]:
        if "response_format" in body:
            self.with_schema += 1
            return "unknown", "response_format: json_schema is not supported by this server", "stop"
        return super().reply(body)


def test_a_server_that_refuses_schemas_is_asked_in_free_text_and_every_fallback_is_counted(tmp_path):
    with RefusesSchemas().running() as server:
        client = make_client({"backend": "openai", "model": "writer", "base_url": server.base_url, **FAST},
                             cache_dir=tmp_path / "cache")
        report = generate_documents(SPEC, client, SLICE, tmp_path / "work", seed=0, temperature=0.9, structured=True)
        assert server.with_schema == 1  # the first schema request was refused; no later one carried a schema
    lists = sum(report["levels"][lv]["calls"] for lv in ("domains", "subdomains", "assertions", "doc_types", "ideas"))
    assert report["structured"]["schema_fallbacks"] == lists  # every list answer came without its schema
    assert report["structured"]["parse_failures"] == 0 and report["documents"]["kept"] == 2
    assert report["levels"]["ideas"]["kept"] == 2


def test_transformers_serve_ignores_the_schema_and_each_answer_is_read_leniently_and_counted(openai_server, tmp_path):
    base_url, model = openai_server
    client = make_client({"backend": "openai", "model": model, "base_url": base_url, **FAST}, cache_dir=None)
    settings = {**SLICE, "max_tokens": 16, "target_documents": 1}
    report = generate_documents(SPEC, client, settings, tmp_path / "work", seed=0, temperature=0.9, structured=True)
    answered = sum(report["levels"][lv]["received"] for lv in ("domains", "subdomains", "assertions", "doc_types",
                                                               "ideas") if lv in report["levels"])
    assert answered >= 1 and report["structured"]["json_failures"] == answered  # random weights write no JSON
    assert report["structured"]["schema_fallbacks"] == 0  # ignored, not refused


def test_the_spec_goes_to_anthropic_as_a_cached_system_prefix_and_tool_answers_parse(tmp_path, monkeypatch):
    monkeypatch.setenv("MSM_TEST_ANTHROPIC_KEY", "sk-ant-test")
    spec = load_spec(REPO / "specs" / "value_aug.md")  # about 3,000 words: what caching is for
    spec_text = spec.render()
    with AnthropicStandIn().running() as server:  # caches prefixes of 1,024 tokens and up, like the API
        client = make_client({"backend": "anthropic", "model": "claude-sonnet-4-5", "base_url": server.base_url,
                              "api_key_env": "MSM_TEST_ANTHROPIC_KEY", "send_key": True, "price_in_per_mtok": 3.0,
                              "price_out_per_mtok": 15.0, **FAST}, cache_dir=None)
        report = generate_documents(spec, client, {**SLICE, "target_documents": 4}, tmp_path / "work", seed=0,
                                    temperature=0.9, structured=True)
        bodies = server.bodies
    with_spec = [b for b in bodies if any(spec_text in block["text"] for block in b.get("system") or [])]
    assert {b["messages"][0]["content"].count(spec_text) for b in bodies} == {0}  # never in the varying part
    assert len(with_spec) >= 3  # the domains request and every document request
    for body in with_spec:
        (block,) = body["system"]
        assert block["cache_control"] == {"type": "ephemeral"} and spec_text in block["text"]
    usage = report["total_usage"]
    assert usage["cache_read_tokens"] > 0 and usage["cache_write_tokens"] > 0  # written once per prefix, then read
    lists = [b for b in bodies if b.get("tool_choice")]
    assert lists and all(b["tools"][0]["input_schema"]["properties"]["items"]["minItems"] >= 1 for b in lists)
    assert report["levels"]["domains"]["kept"] == 1 and report["levels"]["ideas"]["kept"] == 2  # from tool input
    assert report["structured"]["json_failures"] == 0 and report["structured"]["parse_failures"] == 0
