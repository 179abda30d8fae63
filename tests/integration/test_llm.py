"""``msm.llm`` against real servers: ``transformers serve`` (the openai backend), a fault-injecting proxy
in front of it, a local stand-in for the Anthropic API (the cloud API cannot be reached from here, so
``servers/anthropic_standin.py`` speaks its wire format), and the tiny local model (the hf backend).
Nothing of our own is mocked; the proxy counts what really reached the upstream."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import traceback
from pathlib import Path

import anthropic
import pytest

from msm.errors import MsmError
from msm.llm import BackendConfigError, LLMClient, Request, key_is_sent, make_client
from msm.llm.ratelimit import RateLimiter, TokenBucket
from tests.integration.servers.anthropic_standin import AnthropicStandIn, answer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FAST = {"backoff_initial_s": 0.05, "backoff_max_s": 0.5}  # keep retries quick; the policy is the same


def req(text: str, **kw) -> Request:
    return Request(messages=({"role": "user", "content": text},), **{"max_tokens": 8, **kw})


def openai_client(proxy, model, cache_dir, **settings) -> LLMClient:
    return make_client({"backend": "openai", "model": model, "base_url": proxy.base_url, **FAST, **settings},
                       cache_dir=cache_dir)


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("??/*.json"))


# ---------------------------------------------------------------------------------------------- openai


def test_openai_backend_basics_and_cache(openai_server, fault_proxy, tmp_path):
    _, model = openai_server
    client = openai_client(fault_proxy, model, tmp_path / "cache", price_in_per_mtok=1.0, price_out_per_mtok=2.0)
    reqs = [req(f"hello number {i}", system="You are terse.", max_tokens=4) for i in range(3)]
    out = client.complete_many(reqs, desc="basics")
    # a random tiny model rarely emits EOS within 4 tokens: mostly "length" (truncated at max_tokens)
    assert any(r.finish_reason == "length" for r in out)
    assert all((r.finish_reason, r.output_tokens) == ("length", 4) or r.finish_reason == "stop" for r in out)
    assert all(r.input_tokens > 0 and not r.cached and r.ok for r in out)
    u = client.usage
    n_length = sum(r.finish_reason == "length" for r in out)
    assert (u.calls, u.truncated, u.cache_hits, fault_proxy.forwarded) == (3, n_length, 0, 3)
    assert u.cost_usd == pytest.approx((u.input_tokens * 1.0 + u.output_tokens * 2.0) / 1e6)

    again = client.complete_many(reqs)
    assert fault_proxy.forwarded == 3 and client.usage.cache_hits == 3
    assert [r.text for r in again] == [r.text for r in out] and all(r.cached for r in again)
    assert len(cache_files(tmp_path / "cache")) == 3

    # tag is a label, not part of the key: relabelled requests are cache hits
    relabelled = [Request(messages=r.messages, system=r.system, max_tokens=r.max_tokens, tag="other") for r in reqs]
    assert all(r.cached for r in client.complete_many(relabelled)) and fault_proxy.forwarded == 3


def test_retries_through_faults_preserve_order_and_cache(openai_server, fault_proxy, tmp_path):
    _, model = openai_server
    fault_proxy.fault_rate = 0.3
    n = 20
    client = openai_client(fault_proxy, model, tmp_path / "cache", timeout_s=2.0, max_concurrency=4)
    reqs = [req(f"prompt {i}: tell me about item {i}") for i in range(n)]
    with client.stage_usage() as stage:
        out = client.complete_many(reqs, desc="faulty")
    assert all(r.ok for r in out), [r.error for r in out if not r.ok]
    injected = sum(fault_proxy.injected.values())
    assert set(fault_proxy.injected) == {"429", "500", "hang", "drop"}, fault_proxy.injected
    assert stage.retries > 0
    assert stage.retries == injected  # every injected fault cost exactly one retry, nothing else did
    assert fault_proxy.forwarded == n and stage.calls == n and stage.failures == 0

    # Order: each response is the one cached under its own request's key, and a reversed call reverses.
    for r, resp in zip(reqs, out):
        assert client.cache.get(client.key(r)).text == resp.text
    fault_proxy.fault_rate = 0.0
    with client.stage_usage() as rerun:
        back = client.complete_many(list(reversed(reqs)))
    assert [r.text for r in back] == [r.text for r in reversed(out)]
    assert fault_proxy.forwarded == n and rerun.cache_hits == n and rerun.calls == 0


def test_sample_index_gives_distinct_entries_and_inflight_dedupe(openai_server, fault_proxy, tmp_path):
    _, model = openai_server
    client = openai_client(fault_proxy, model, tmp_path / "cache")
    samples = [req("one prompt, many samples", sample_index=k) for k in range(4)]
    assert len({client.key(r) for r in samples}) == 4
    client.complete_many(samples)
    assert fault_proxy.forwarded == 4 and len(cache_files(tmp_path / "cache")) == 4
    client.complete_many(samples)
    assert fault_proxy.forwarded == 4

    same = [req("asked three times at once")] * 3
    with client.stage_usage() as stage:
        out = client.complete_many(same)
    assert fault_proxy.forwarded == 5 and stage.calls == 1 and stage.cache_hits == 2
    assert len({r.text for r in out}) == 1 and [r.cached for r in out] == [False, True, True]


INTERRUPTED_RUN = textwrap.dedent("""
    import sys
    from pathlib import Path
    from msm.llm import Request, make_client
    base_url, model, cache_dir, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    client = make_client({"backend": "openai", "model": model, "base_url": base_url, "max_concurrency": 1},
                         cache_dir=cache_dir)
    client.complete_many([Request(messages=({"role": "user", "content": f"resume {i}"},), max_tokens=8)
                          for i in range(n)])
""")


def test_killed_run_resumes_with_only_missing_requests(openai_server, fault_proxy, tmp_path):
    _, model = openai_server
    n, cache_dir = 10, tmp_path / "cache"
    fault_proxy.delay_s = 0.3  # slow enough to kill the run half-way
    script = tmp_path / "run.py"
    script.write_text(INTERRUPTED_RUN)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), fault_proxy.base_url, model, str(cache_dir), str(n)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(cache_files(cache_dir)) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the subprocess cached nothing in 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stderr.close()
    done = len(cache_files(cache_dir))
    assert 3 <= done < n
    before = fault_proxy.forwarded
    fault_proxy.delay_s = 0.0
    client = make_client({"backend": "openai", "model": model, "base_url": fault_proxy.base_url}, cache_dir=cache_dir)
    out = client.complete_many([req(f"resume {i}") for i in range(n)])
    assert all(r.ok for r in out)
    assert fault_proxy.forwarded - before == n - done  # only the missing ones went upstream
    assert client.usage.cache_hits == done and client.usage.calls == n - done
    sent_after = fault_proxy.prompts[before:]
    assert sorted(sent_after) == sorted(f"resume {i}" for i, r in enumerate(out) if not r.cached)


def test_refusals_and_errors_are_not_cached(openai_server, fault_proxy, tmp_path):
    _, model = openai_server
    fault_proxy.refuse_if = "PLEASE_REFUSE"
    client = openai_client(fault_proxy, model, tmp_path / "cache", max_retries=1)
    reqs = [req("a fine request"), req("PLEASE_REFUSE this one")]
    out = client.complete_many(reqs)
    assert [r.finish_reason for r in out] == ["stop" if out[0].finish_reason == "stop" else "length", "refusal"]
    assert not out[1].ok and out[1].text == "I can't help with that."
    assert client.usage.refusals == 1 and len(cache_files(tmp_path / "cache")) == 1
    client.complete_many(reqs)
    assert fault_proxy.refused == 2 and fault_proxy.forwarded == 1  # the refusal was asked again, the rest cached

    # An error after the retries run out: an "error" response, counted, not cached, asked again next time.
    fault_proxy.fault_rate, fault_proxy.faults, fault_proxy.max_faults_per_body = 1.0, ("500",), 99
    err = client.complete_many([req("always fails")])[0]
    assert err.finish_reason == "error" and "500" in err.error and client.usage.failures == 1
    assert client.usage.retries >= 1 and len(cache_files(tmp_path / "cache")) == 1


def test_api_key_comes_from_env_and_never_leaks(openai_server, fault_proxy, tmp_path, monkeypatch, caplog):
    _, model = openai_server
    secret = "sk-test-DO-NOT-LEAK-4f9a2c"
    monkeypatch.setenv("MSM_TEST_OPENAI_KEY", secret)
    caplog.set_level(logging.DEBUG)
    client = openai_client(fault_proxy, model, tmp_path / "cache", api_key_env="MSM_TEST_OPENAI_KEY", max_retries=1,
                           send_key=True)
    fault_proxy.fault_rate, fault_proxy.faults = 1.0, ("500", "429")
    out = client.complete_many([req("key test")])
    assert fault_proxy.auth_headers == {f"Bearer {secret}"}  # sent to the server that asked for it...
    texts = [repr(client), str(client), repr(client.backend), repr(client.usage), json.dumps(client.usage.as_dict()),
             caplog.text, out[0].error or "", repr(out[0])]
    assert all(secret not in t for t in texts)  # ...and nowhere else

    with pytest.raises(MsmError) as e:  # the key pasted where its variable's name belongs
        make_client({"backend": "openai", "model": model, "api_key_env": secret}, cache_dir=None)
    assert secret not in str(e.value)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(client.backend.secrets()[0])


def test_make_client_settings():
    with pytest.raises(MsmError, match="temprature"):
        make_client({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9", "temprature": 0}, None)
    with pytest.raises(MsmError, match="batch_size"):
        make_client({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9", "batch_size": 2}, None)
    with pytest.raises(MsmError, match="backend"):
        make_client({"backend": "cohere", "model": "m"}, None)
    os.environ.pop("MSM_TEST_MISSING_KEY", None)
    with pytest.raises(MsmError, match="MSM_TEST_MISSING_KEY"):
        make_client({"backend": "anthropic", "model": "m", "api_key_env": "MSM_TEST_MISSING_KEY"}, None)
    local = make_client({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9",
                         "api_key_env": "MSM_TEST_MISSING_KEY"}, None)
    assert local.backend.secrets()[0].get() == "EMPTY"
    with pytest.raises(ValueError):
        Request(messages=({"role": "system", "content": "no"},))
    assert req("x", temperature=1).cache_key("b", "m") == req("x", temperature=1.0).cache_key("b", "m")


# ---------------------------------------------------------------------------------------------- anthropic
# The stand-in replaces api.anthropic.com, which cannot be reached from the test machines.


@pytest.fixture
def claude_key(monkeypatch):
    key = "test-key-NEVER-LOG-ME-7d1e"
    monkeypatch.setenv("MSM_TEST_ANTHROPIC_KEY", key)
    return key


def test_a_shell_key_goes_only_to_its_provider(openai_server, fault_proxy, tmp_path, monkeypatch, caplog):
    """OPENAI_API_KEY set in the shell is not sent to another base_url unless send_key says so; a plain-HTTP
    URL to another host is warned about."""
    _, model = openai_server
    secret = "sk-test-shell-key-for-openai-only-77"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    client = openai_client(fault_proxy, model, tmp_path / "cache")
    client.complete_many([req("who gets the key")])
    assert fault_proxy.auth_headers and secret not in " ".join(fault_proxy.auth_headers)
    assert key_is_sent("openai", {"base_url": None}) and key_is_sent("openai", {"base_url": "https://api.openai.com/v1"})
    assert not key_is_sent("anthropic", {"base_url": "https://proxy.example.org"})
    assert key_is_sent("anthropic", {"base_url": "https://proxy.example.org", "send_key": True})
    caplog.set_level(logging.WARNING)
    make_client({"backend": "openai", "model": "m", "base_url": "http://gpu-node.example.org:8000/v1"}, cache_dir=None)
    make_client({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:8000/v1"}, cache_dir=None)
    plain = [r.getMessage() for r in caplog.records if "plain HTTP" in r.getMessage()]
    assert len(plain) == 1 and "gpu-node.example.org" in plain[0] and "API key" not in plain[0]


def claude(standin, cache_dir, **settings) -> LLMClient:
    return make_client({"backend": "anthropic", "model": "claude-standin", "base_url": standin.base_url,
                        "api_key_env": "MSM_TEST_ANTHROPIC_KEY", "send_key": True, "price_in_per_mtok": 3.0,
                        "price_out_per_mtok": 15.0, **FAST, **settings}, cache_dir=cache_dir)


def test_anthropic_messages_through_standin(anthropic_standin, claude_key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    client = claude(anthropic_standin, tmp_path / "cache")
    reqs = [req("Hello there friend", system="Be brief.", max_tokens=100),
            req("cut me short", max_tokens=3),
            req("PLEASE_REFUSE this", max_tokens=100),
            req("FLAKY_ONCE first try overloads", max_tokens=100),
            req("a judge wants greedy", temperature=0.0, max_tokens=100)]  # not sent: the API rejects it
    out = client.complete_many(reqs, desc="claude")
    assert [r.finish_reason for r in out] == ["stop", "length", "refusal", "stop", "stop"], [r.error for r in out]
    assert out[0].input_tokens == 5 and out[0].output_tokens == 10  # the stand-in counts words
    assert out[1].output_tokens == 3 and len(out[1].text.split()) == 3
    u = client.usage
    assert (u.calls, u.truncated, u.refusals, u.retries) == (5, 1, 1, 1)
    assert u.cost_usd == pytest.approx((u.input_tokens * 3.0 + u.output_tokens * 15.0) / 1e6)
    assert len(cache_files(tmp_path / "cache")) == 4  # everything but the refusal
    assert set(anthropic_standin.api_keys_seen) == {claude_key}  # the key is sent...
    assert anthropic_standin.versions_seen
    assert all(claude_key not in t for t in (repr(client), repr(client.usage), caplog.text))  # ...never logged


def test_anthropic_rejected_key_fails_loudly_without_leaking(claude_key, monkeypatch, tmp_path):
    with AnthropicStandIn(expected_key="the-right-key").running() as standin:
        client = claude(standin, tmp_path / "cache")
        with pytest.raises(BackendConfigError) as e:
            client.complete_many([req("hi", max_tokens=20)])
    assert "401" in str(e.value) and "authentication_error" in str(e.value)
    assert claude_key not in str(e.value) and claude_key not in repr(e.value)  # the stand-in echoed it; we scrub
    chained, exc = [], e.value
    while exc is not None:  # no SDK error rides along, even hidden (it would carry the request and its headers)
        chained.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert not any(isinstance(x, anthropic.APIError) or claude_key in str(x) for x in chained), chained
    assert claude_key not in "".join(traceback.format_exception(e.value))


def test_anthropic_message_batches_half_price(anthropic_standin, claude_key, tmp_path):
    reqs = [req("batch item one", max_tokens=100), req("batch item two", max_tokens=4),
            req("BATCH_ERROR bad entry", max_tokens=100), req("PLEASE_REFUSE in a batch", max_tokens=100),
            req("batch item one", max_tokens=100)]  # a duplicate: submitted once
    batch_client = claude(anthropic_standin, tmp_path / "batch_cache", use_batches=True, batch_poll_s=0.05)
    out = batch_client.complete_many(reqs, desc="batch")
    assert [r.finish_reason for r in out] == ["stop", "length", "error", "refusal", "stop"]
    assert "invalid_request_error" in out[2].error and out[4].cached and out[4].text == out[0].text
    assert anthropic_standin.calls["batches.create"] == 1 and anthropic_standin.calls["messages"] == 0
    (batch,) = anthropic_standin.batches.values()
    assert len(batch["requests"]) == 4 and {r["custom_id"] for r in batch["requests"]} == \
        {batch_client.key(r) for r in reqs}
    assert len(cache_files(tmp_path / "batch_cache")) == 2  # errored and refused entries are not cached
    assert not list((tmp_path / "batch_cache" / "batches").glob("*.json"))  # journal cleared once collected
    u = batch_client.usage
    assert (u.calls, u.cache_hits, u.failures, u.refusals, u.truncated) == (4, 1, 1, 1, 1)

    # The same requests one by one (standard price) cost exactly twice as much.
    plain = claude(anthropic_standin, tmp_path / "plain_cache")
    plain.complete_many([r for r in reqs[:4] if "BATCH_ERROR" not in r.messages[0]["content"]])
    assert u.input_tokens == plain.usage.input_tokens and u.output_tokens == plain.usage.output_tokens
    assert u.cost_usd == pytest.approx(0.5 * plain.usage.cost_usd) and u.cost_usd > 0

    # A rerun submits only what did not succeed: the errored entry and the refusal.
    batch_client.complete_many(reqs)
    assert anthropic_standin.calls["batches.create"] == 2
    second = list(anthropic_standin.batches.values())[1]
    assert sorted(r["params"]["messages"][0]["content"] for r in second["requests"]) == \
        ["BATCH_ERROR bad entry", "PLEASE_REFUSE in a batch"]
    assert answer(second["requests"][0]["params"])["type"] == "message"


def test_anthropic_batch_reattaches_after_interruption(anthropic_standin, claude_key, tmp_path):
    """A job killed while its batch is processing must not pay for the batch twice on rerun."""
    anthropic_standin.polls_to_end = 10**6  # the batch stays in progress until we say so
    client = claude(anthropic_standin, tmp_path / "cache", use_batches=True, batch_poll_s=0.02)
    reqs = [req(f"long batch item {i}", max_tokens=50) for i in range(3)]

    async def interrupted():
        task = asyncio.ensure_future(client.acomplete_many(reqs))
        for _ in range(500):
            if anthropic_standin.calls["batches.retrieve"] >= 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    assert anthropic_standin.calls["batches.create"] == 1
    assert len(list((tmp_path / "cache" / "batches").glob("*.json"))) == 1  # the journalled batch id
    anthropic_standin.polls_to_end = 1
    out = client.complete_many(reqs)
    assert all(r.finish_reason == "stop" for r in out)
    assert anthropic_standin.calls["batches.create"] == 1  # re-attached, not resubmitted
    assert not list((tmp_path / "cache" / "batches").glob("*.json"))


# ---------------------------------------------------------------------------------------------- hf


def test_hf_backend_batches_and_is_reproducible(tiny_model_dir, tmp_path):
    settings = {"backend": "hf", "model": str(tiny_model_dir), "device": "cpu", "dtype": "float32", "batch_size": 4}
    client = make_client(settings, cache_dir=tmp_path / "cache")
    reqs = [req("tell me a story", sample_index=k, max_tokens=6) for k in range(3)]
    reqs += [req("be greedy", temperature=0.0, sample_index=k, max_tokens=6) for k in range(2)]
    reqs += [req("nucleus", temperature=0.7, top_p=0.9, max_tokens=12)]
    out = client.complete_many(reqs, desc="hf")
    assert client.backend.batch_sizes == [4, 2]
    # A random model rarely emits EOS: "length" with exactly max_tokens, or "stop" before it.
    assert any(r.finish_reason == "length" for r in out)
    for r, resp in zip(reqs, out):
        assert (resp.finish_reason, resp.output_tokens) == ("length", r.max_tokens) or \
            (resp.finish_reason == "stop" and resp.output_tokens <= r.max_tokens)
    assert len({r.text for r in out[:3]}) == 3  # distinct samples per sample_index
    assert out[3].text == out[4].text  # greedy ignores the seed
    assert all(r.input_tokens > 0 for r in out)

    # Same requests, a fresh client and no cache, a different batch composition: same samples.
    fresh = make_client({**settings, "batch_size": 2}, cache_dir=None)
    again = fresh.complete_many(list(reversed(reqs)))
    assert [r.text for r in reversed(again)] == [r.text for r in out]
    assert sum(fresh.backend.batch_sizes) == 6 and max(fresh.backend.batch_sizes) == 2

    # Works from inside a running event loop too (complete_many then runs in a helper thread).
    async def inside_loop():
        return client.complete_many(reqs[:2])

    assert [r.text for r in asyncio.run(inside_loop())] == [r.text for r in out[:2]]
    assert client.usage.cache_hits == 2


def test_hf_weights_named_apart_from_their_folder_sample_alike_wherever_they_are(tiny_model_dir, tmp_path):
    """A store's weights go by their key: a copy of the store elsewhere writes the same samples and reuses the
    LLM cache, where naming them by their path would re-seed every sample."""
    moved = tmp_path / "elsewhere" / "model"
    shutil.copytree(tiny_model_dir, moved)
    reqs = [req("tell me a story", sample_index=k, max_tokens=6) for k in range(3)]
    texts = []
    for folder in (tiny_model_dir, moved):
        client = make_client({"backend": "hf", "model": "base_model/0123", "weights": str(folder), "device": "cpu"},
                             cache_dir=None)
        texts.append([r.text for r in client.complete_many(reqs)])
        assert client.backend.weights == str(folder) and "base_model/0123" in client.endpoint
    assert texts[0] == texts[1] and len(set(texts[0])) == 3
    by_path = make_client({"backend": "hf", "model": str(moved), "device": "cpu"}, cache_dir=None)
    assert [r.text for r in by_path.complete_many(reqs)] != texts[0]  # the name seeds the samples


# ---------------------------------------------------------------------------------------------- rate limits


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.now += s
        await asyncio.sleep(0)


def test_token_bucket_orders_and_paces_with_a_fake_clock():
    clock = FakeClock()
    bucket = TokenBucket(60, burst=2, clock=clock, sleep=clock.sleep)  # 1 per second, 2 up front
    order, stamps = [], []

    async def take(i):
        await bucket.acquire(1)
        order.append(i)
        stamps.append(clock.now)

    async def main():
        await asyncio.gather(*(take(i) for i in range(6)))

    asyncio.run(main())
    assert order == list(range(6))  # first come, first served
    assert stamps == pytest.approx([0, 0, 1, 2, 3, 4])

    # tokens per minute: a request larger than the bucket goes when the bucket is full, and its whole
    # cost is paid back before the next one goes (the long-run rate is the limit)
    clock2 = FakeClock()
    limits = RateLimiter(rpm=600, tpm=6000, clock=clock2, sleep=clock2.sleep)  # tpm: 100/s, bucket of 1000
    asyncio.run(limits.acquire(5000))
    assert clock2.now == 0.0
    asyncio.run(limits.acquire(500))
    assert clock2.now == pytest.approx(45.0)  # from -4000 up to 500 at 100 tokens per second
    assert (limits.tpm.waits, limits.rpm.waits) == (1, 0)


def test_rate_limit_applies_to_real_calls(openai_server, fault_proxy, tmp_path):
    _, model = openai_server
    client = openai_client(fault_proxy, model, None, rpm=300)  # one token per 0.2 s
    client.limiter.rpm.capacity = client.limiter.rpm._tokens = 2.0  # a small burst, so the limit bites
    out = client.complete_many([req(f"limited {i}") for i in range(5)])
    assert all(r.ok for r in out) and fault_proxy.forwarded == 5
    assert client.limiter.rpm.waits >= 2  # 5 requests at once, 2 in the bucket: the rest had to wait


def test_nested_stage_usage_blocks_with_equal_counts_stay_separate(tmp_path):
    """Two blocks whose counters are equal must not be confused when the inner one closes."""
    from msm.llm import make_client

    client = make_client({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}, tmp_path)
    with client.stage_usage() as outer:
        with client.stage_usage() as inner:
            assert inner == outer  # both empty: equal by value
        outer.calls += 1  # the outer block is still the one being tracked after the inner one closed
        assert client._trackers == [outer] and client._trackers[0] is outer
    assert client._trackers == []
