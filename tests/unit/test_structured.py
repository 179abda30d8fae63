"""Structured outputs and prompt caching in ``msm.llm``: schemas enforced while the local model decodes, the
request bodies the SDK backends send (checked against the official SDKs' own request types), cached prompt
tokens read from the providers' usage payloads and priced, and the readers of JSON answers."""

from __future__ import annotations

import json
import typing

import anthropic.types as at
import jsonschema
import pytest
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import TypeAdapter

from msm.data.aftgen_steps import NOT_JSON, judge_response, verdict
from msm.data.listparse import parse_fields, parse_list
from msm.data.schemas import ITEM_CHARS, json_budget, list_schema, response_schema, verdict_schema
from msm.llm import LLMClient, Request, Response, make_client, prices
from msm.llm.backends.anthropic import AnthropicBackend
from msm.llm.backends.openai import OpenAIBackend
from msm.llm.types import Secret

SCHEMAS = {"list": list_schema(3, "domains"), "verdict": verdict_schema(), "response": response_schema(64)}


def _request(schema: dict, k: int, max_tokens: int, system: str | None = None) -> Request:
    return Request(messages=({"role": "user", "content": f"Answer, please ({k})."},), system=system,
                   max_tokens=max_tokens, temperature=1.0, sample_index=k, schema=schema)


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_the_hf_backend_decodes_every_answer_under_its_schema_whatever_the_weights(tiny_model_dir, kind):
    """The tiny model's weights are random: free, it writes noise. Under a schema every answer is JSON that
    validates, with the lists' exact item counts and the verdict's enum, at temperature 1."""
    schema = SCHEMAS[kind]
    budget = {"list": json_budget(3, ITEM_CHARS["domains"]), "verdict": 260, "response": 256}[kind]
    client = make_client({"backend": "hf", "model": str(tiny_model_dir), "batch_size": 8}, cache_dir=None)
    answers = client.complete_many([_request(schema, k, budget) for k in range(8)])
    for resp in answers:
        assert resp.structured and resp.finish_reason == "stop", resp
        jsonschema.validate(json.loads(resp.text), schema)
    free = client.complete_many([Request(messages=({"role": "user", "content": "Answer, please (0)."},),
                                         max_tokens=24, temperature=1.0)])[0]
    assert not free.structured and parse_list(free.text, structured=True)[1]  # unconstrained: no JSON


def test_a_schema_row_and_a_free_row_share_a_batch(tiny_model_dir):
    """One generate() call holds both: the constrained row parses, the free one is the same text it is alone."""
    client = make_client({"backend": "hf", "model": str(tiny_model_dir), "batch_size": 8}, cache_dir=None)
    free = Request(messages=({"role": "user", "content": "Say anything."},), max_tokens=16, temperature=1.0)
    alone = client.complete_many([free])[0].text
    both = client.complete_many([free, _request(SCHEMAS["verdict"], 0, 260)])
    assert both[0].text == alone
    jsonschema.validate(json.loads(both[1].text), SCHEMAS["verdict"])
    assert client.backend.batch_sizes[-1] == 2


# ---- the wire format, against the SDKs' own request types -------------------------------------------------


def _keys_within(params: dict, typed_dict) -> None:
    """Every key we send is one the SDK's TypedDict declares (TypeAdapter alone ignores unknown keys)."""
    assert set(params) <= set(typing.get_type_hints(typed_dict)), set(params) - set(typing.get_type_hints(typed_dict))


def test_openai_structured_requests_are_what_the_sdk_types_describe():
    backend = OpenAIBackend("gpt-4.1-mini", api_key=Secret("k"))
    req = _request(SCHEMAS["list"], 0, 100, system="SPEC AND INSTRUCTIONS")
    params = backend.params(req)
    TypeAdapter(CompletionCreateParamsNonStreaming).validate_python(params)
    _keys_within(params, CompletionCreateParamsNonStreaming)
    fmt = params["response_format"]
    TypeAdapter(ResponseFormatJSONSchema).validate_python(fmt)
    _keys_within(fmt, ResponseFormatJSONSchema)
    assert fmt["json_schema"]["strict"] is True and "maxLength" not in json.dumps(fmt)  # strict mode takes no bounds
    assert fmt["json_schema"]["schema"]["properties"]["items"]["minItems"] == 3
    assert params["messages"][0] == {"role": "system", "content": "SPEC AND INSTRUCTIONS"}  # the stable part first
    assert "response_format" not in backend.params(req, with_schema=False)


def test_anthropic_requests_mark_the_system_prompt_for_the_cache_and_force_the_schema_tool():
    backend = AnthropicBackend("claude-sonnet-4-5", api_key=Secret("k"))
    req = _request(SCHEMAS["verdict"], 0, 100, system="SPEC AND INSTRUCTIONS")
    params = backend.params(req)
    TypeAdapter(MessageCreateParamsNonStreaming).validate_python(params)
    _keys_within(params, MessageCreateParamsNonStreaming)
    (block,) = params["system"]
    _keys_within(block, at.TextBlockParam)
    assert block == {"type": "text", "text": "SPEC AND INSTRUCTIONS", "cache_control": {"type": "ephemeral"}}
    TypeAdapter(at.CacheControlEphemeralParam).validate_python(block["cache_control"])
    (tool,) = params["tools"]
    _keys_within(tool, at.ToolParam)
    TypeAdapter(at.ToolParam).validate_python(tool)
    assert params["tool_choice"] == {"type": "tool", "name": tool["name"]}
    TypeAdapter(at.ToolChoiceToolParam).validate_python(params["tool_choice"])
    assert tool["input_schema"]["properties"]["verdict"]["enum"] == ["INCLUDE", "EXCLUDE"]
    off = AnthropicBackend("claude-sonnet-4-5", api_key=Secret("k"), prompt_cache=False).params(req, with_schema=False)
    assert off["system"] == "SPEC AND INSTRUCTIONS" and "tools" not in off


# ---- cached tokens from the providers' usage payloads ---------------------------------------------------

# Response bodies in the shapes the providers document (the fields msm reads), validated by the SDKs' own types.
ANTHROPIC_WRITE = {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                   "content": [{"type": "text", "text": "Fine."}], "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": 40, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 0,
                             "output_tokens": 500}}
ANTHROPIC_READ = {**ANTHROPIC_WRITE, "id": "msg_02",
                  "usage": {"input_tokens": 40, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 3000,
                            "output_tokens": 500}}
ANTHROPIC_TOOL = {**ANTHROPIC_READ, "id": "msg_03", "stop_reason": "tool_use",
                  "content": [{"type": "tool_use", "id": "toolu_01", "name": "answer",
                               "input": {"items": ["Dairy farming", "Cheese shops"]}}]}
OPENAI_CACHED = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1765000000, "model": "gpt-4.1-mini",
                 "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                              "message": {"role": "assistant", "content": "{\"items\": [\"a b\"]}", "refusal": None}}],
                 "usage": {"prompt_tokens": 3040, "completion_tokens": 500, "total_tokens": 3540,
                           "prompt_tokens_details": {"cached_tokens": 2944, "audio_tokens": 0}}}


def test_cached_prompt_tokens_are_counted_apart_and_priced_at_the_providers_ratios():
    claude = make_client({"backend": "anthropic", "model": "claude-sonnet-4-5", "price_in_per_mtok": 3.0,
                          "price_out_per_mtok": 15.0, "base_url": "http://127.0.0.1:9"}, cache_dir=None)
    written, read, tool = (AnthropicBackend.parse(at.Message.model_validate(p))
                           for p in (ANTHROPIC_WRITE, ANTHROPIC_READ, ANTHROPIC_TOOL))
    assert (written.input_tokens, written.cache_write_tokens, written.cache_read_tokens) == (3040, 3000, 0)
    assert (read.input_tokens, read.cache_read_tokens) == (3040, 3000)
    assert tool.structured and json.loads(tool.text) == {"items": ["Dairy farming", "Cheese shops"]}
    for resp in (written, read):
        claude._record(resp)
    u = claude.usage
    assert (u.input_tokens, u.cache_write_tokens, u.cache_read_tokens, u.output_tokens) == (6080, 3000, 3000, 1000)
    # 80 uncached at $3, 3000 written at $3.75, 3000 read at $0.30, 1000 out at $15 (per million)
    assert u.cost_usd == pytest.approx((80 * 3 + 3000 * 3.75 + 3000 * 0.3 + 1000 * 15) / 1e6)

    gpt = make_client({"backend": "openai", "model": "gpt-4.1-mini", "price_in_per_mtok": 0.4,
                       "price_out_per_mtok": 1.6, "base_url": "http://127.0.0.1:9"}, cache_dir=None)
    resp = OpenAIBackend.parse(ChatCompletion.model_validate(OPENAI_CACHED))
    assert (resp.input_tokens, resp.cache_read_tokens, resp.cache_write_tokens) == (3040, 2944, 0)
    gpt._record(resp)
    assert gpt.usage.cost_usd == pytest.approx((96 * 0.4 + 2944 * 0.1 + 500 * 1.6) / 1e6)
    own = prices({"backend": "openai", "price_in_per_mtok": 1.25, "price_cache_read_per_mtok": 0.125})
    assert own.cache_read == 0.125 and own.cache_write == 0.0  # set prices win over the default ratios


def test_a_client_given_only_input_and_output_prices_bills_cached_tokens_as_input():
    client = LLMClient(OpenAIBackend("m", api_key=Secret("k")), cache_dir=None, price_in_per_mtok=2.0,
                       price_out_per_mtok=8.0)
    client._record(Response("x", "stop", input_tokens=1000, output_tokens=10, cache_read_tokens=900))
    assert client.usage.cost_usd == pytest.approx((1000 * 2 + 10 * 8) / 1e6)


# ---- reading JSON answers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "items", "not_json"), [
    ('{"items": ["Dairy farming", "Cheese shops"]}', ["Dairy farming", "Cheese shops"], False),
    ('```json\n["Dairy farming", "Cheese shops"]\n```', ["Dairy farming", "Cheese shops"], False),
    ('{"items": ["Dairy farming", "Cheese sh', ["Dairy farming"], True),  # cut off: its complete strings
    ("1. Dairy farming\n2. Cheese shops", ["Dairy farming", "Cheese shops"], True),  # the schema was ignored
    ('{"items": ["Dairy farming", "Goat \\q cheese", "Chee', ["Dairy farming", "Goat \\q cheese"], True),  # bad escape
])
def test_list_answers_read_as_json_or_leniently_with_the_failure_said(text, items, not_json):
    found, failed = parse_list(text, structured=True)
    assert [item for _, item in found] == items and failed is not_json
    assert [n for n, _ in found] == list(range(1, len(items) + 1))


def test_field_answers_become_demonstrations_and_verdicts():
    ok = Response(json.dumps({"reasoning": "The person wants a cheap meal that still tastes good.",
                              "answer": "Try a simple cheddar toastie."}), "stop", structured=True)
    status, _, content = judge_response(ok, [], "value", structured=True)
    assert status == "ok" and content.startswith("<think>\nThe person wants") and content.endswith("toastie.")
    assert judge_response(Response("just words", "stop"), [], "value", structured=True)[:2] == ("malformed", NOT_JSON)
    assert parse_fields('{"reasoning": ""}', ("reasoning",)) is None
    verdict_json = Response('{"verdict": "EXCLUDE", "category": "off_spec", "reason": "It ignores the spec."}', "stop")
    assert verdict(verdict_json, structured=True) == (False, "off_spec", "It ignores the spec.")
    assert verdict(Response("VERDICT: INCLUDE\nREASON: ok: fine", "stop"), structured=True)[0] is True  # free text
