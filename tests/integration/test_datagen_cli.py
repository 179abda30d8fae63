"""Issue 3's done criteria through ``train.py stages=[data]`` with the openai backend.

What is real: the CLI, the store and its manifests, the openai SDK over HTTP, retries through a
fault-injecting proxy, the disk cache. What is scripted: the *text* the server writes. The tiny model
under ``transformers serve`` writes no newline and never stops, so nothing it says parses as a list
(test_docgen.py and test_aftgen.py run the pipelines against it and check that the shortfall is
reported), and SmolLM2 under ``transformers serve`` took ~7 s per request on 2 cores, too slow for CI.
So the upstream here is ScriptedWriter (document prompts) or ScriptedAft (AFT prompts): OpenAI-
compatible servers that answer like a cooperative, imperfect model.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.integration.servers.fault_proxy import FaultProxy
from tests.integration.servers.scripted_aft import ScriptedAft
from tests.integration.servers.scripted_writer import ScriptedWriter

pytestmark = pytest.mark.integration
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def train(args, tmp_path, name):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "sk-test-not-a-real-key"}
    out = subprocess.run([sys.executable, str(REPO / "train.py"), "stages=[data]", "spec=cheese_affordability",
                          "generator=openai", "generator.model=scripted", "generator.max_concurrency=4",
                          "generator.max_retries=8", "generator.backoff_initial_s=0.05", "generator.backoff_max_s=0.4",
                          "datagen=smoke",
                          "logger=none", f"paths.store={tmp_path / 'store'}", f"hydra.run.dir={tmp_path / name}", *args],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    arts = json.loads((tmp_path / name / "artifacts.json").read_text())
    return {a["stage"]: a for a in arts}


@pytest.fixture
def upstream(request):
    with request.param().running() as server:
        proxy = FaultProxy(server.base_url.removesuffix("/v1"), fault_rate=0.3, faults=("429", "500", "drop"))
        proxy.start()
        try:
            yield server, proxy
        finally:
            proxy.stop()


@pytest.mark.parametrize("upstream", [ScriptedWriter], indirect=True)
def test_documents_meet_their_target_through_faults_and_a_rerun_sends_nothing(upstream, tmp_path):
    _, proxy = upstream
    args = ["aft=none", f"generator.base_url={proxy.base_url}"]
    first = train(args, tmp_path, "first")["documents"]
    manifest = json.loads((tmp_path / "store" / "documents" / first["key"] / "manifest.json").read_text())
    info = manifest["info"]
    assert first["built"] and info["n_documents"] == 24 and info["documents"]["kept"] == 24
    assert info["documents"]["generated"] >= 24 and info["documents"]["shortfall"] == 0  # drops are reported
    rows = [json.loads(x) for x in (tmp_path / "store" / "documents" / first["key"] / "documents.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and len({r["text"] for r in rows}) == 24  # target met, no duplicate document
    assert all(r["domain"] and r["doc_type"] and r["idea"] for r in rows)  # provenance
    usage = info["total_usage"]
    assert usage["calls"] > 0 and usage["retries"] > 0 and usage["failures"] == 0 and usage["input_tokens"] > 0
    assert sum(proxy.injected.values()) > 0
    assert "cost_usd" in usage and manifest["settings"]["prompts"]

    forwarded = proxy.forwarded
    again = train(args, tmp_path, "second")["documents"]
    assert again["key"] == first["key"] and not again["built"]
    assert proxy.forwarded == forwarded  # the rerun sent nothing upstream

    # a fresh store but the same LLM cache: the stage is rebuilt from cached responses, still 0 requests
    os.rename(tmp_path / "store" / "documents", tmp_path / "documents_moved")
    rebuilt = train(args, tmp_path, "third")["documents"]
    assert rebuilt["built"] and proxy.forwarded == forwarded
    info3 = json.loads((tmp_path / "store" / "documents" / rebuilt["key"] / "manifest.json").read_text())["info"]
    assert info3["total_usage"]["calls"] == 0 and info3["total_usage"]["cache_hits"] > 0


@pytest.mark.parametrize("upstream", [ScriptedAft], indirect=True)
def test_aft_pool_meets_its_target_through_faults_and_a_rerun_sends_nothing(upstream, tmp_path):
    _, proxy = upstream
    args = ["midtrain=none", "aft.data=generated", "datagen.aft.max_rounds=4", f"generator.base_url={proxy.base_url}"]
    first = train(args, tmp_path, "first")["aft_pool"]
    folder = tmp_path / "store" / "aft_pool" / first["key"]
    info = json.loads((folder / "manifest.json").read_text())["info"]
    rows = [json.loads(x) for x in (folder / "pool.jsonl").read_text().splitlines()]
    twins = [json.loads(x) for x in (folder / "pool_no_cot.jsonl").read_text().splitlines()]
    assert info["rows"] == len(rows) == 24 and info["shortfall"] == 0
    assert len({r["messages"][0]["content"] for r in rows}) == 24  # no duplicate question
    assert [t["id"] for t in twins] == [r["id"] for r in rows] and not any("<think>" in t["messages"][-1]["content"] for t in twins)
    assert all(m["role"] != "system" for r in rows for m in r["messages"])
    assert info["usage"]["total"]["retries"] > 0 and sum(proxy.injected.values()) > 0

    forwarded = proxy.forwarded
    again = train(args, tmp_path, "second")["aft_pool"]
    assert not again["built"] and proxy.forwarded == forwarded


def _failing_train(args, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "sk-test-not-a-real-key"}
    return subprocess.run([sys.executable, str(REPO / "train.py"), "stages=[data]", "spec=cheese_affordability",
                           "generator=openai", "generator.model=scripted", "datagen=smoke", "aft=none", "logger=none",
                           f"paths.store={tmp_path / 'store'}", f"hydra.run.dir={tmp_path / 'job'}", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_unreachable_generator_fails_in_seconds_naming_the_url(tmp_path):
    from tests.integration.servers.background import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    out = _failing_train([f"generator.base_url={url}"], tmp_path)
    assert out.returncode == 1
    assert f"cannot reach openai model 'scripted' at {url}" in out.stderr and "could not connect" in out.stderr
    assert "Traceback" not in out.stderr
    status = json.loads((tmp_path / "job" / "status.json").read_text())
    assert status["status"] == "failed" and url in status["error"]
    # the default retry policy (6 retries, backoff from 1 s) would take minutes per request; seconds here
    assert json.loads((tmp_path / "job" / "artifacts.json").read_text()) == []


def test_server_answering_500_fails_with_the_status_counted(tmp_path):
    with ScriptedWriter().running() as server:
        proxy = FaultProxy(server.base_url.removesuffix("/v1"), fault_rate=1.0, faults=("500",),
                           max_faults_per_body=10**6)
        proxy.start()
        try:
            out = _failing_train([f"generator.base_url={proxy.base_url}", "generator.max_retries=2",
                                  "generator.backoff_initial_s=0.01", "generator.backoff_max_s=0.05"], tmp_path)
        finally:
            proxy.stop()
    assert out.returncode == 1
    # the first step stops at its failed request (nothing recorded as done), naming the failure and its attempts
    failed = re.search(r"docgen domains: (\d+) request\(s\) failed: HTTP 500 x (\d+);", out.stderr)
    assert failed and failed.group(1) == failed.group(2), out.stderr[-2000:]  # every failed request: a 500
    attempts = proxy.injected["500"]
    assert attempts >= 3 and f"HTTP 500 x {attempts}" in out.stderr, out.stderr[-2000:]
    assert f"at {proxy.base_url}" in out.stderr


def test_the_plans_call_estimate_is_what_the_server_then_receives(tmp_path):
    """plan=true counts a data stage's LLM calls before any is made; a server that plants no drop, cut-off
    or short list (so no top-up round, regeneration or retry is needed) then receives exactly that many."""
    never = 10**15  # larger than any prompt hash: nothing planted
    with ScriptedWriter(short_every=never, unsuitable_every=never, cut_once_every=never, cut_always_every=never,
                        twin_every=never).running() as server:
        args = ["aft=none", f"generator.base_url={server.base_url}"]
        planned = subprocess.run([sys.executable, str(REPO / "train.py"), "plan=true", "stages=[data]",
                                  "spec=cheese_affordability", "generator=openai", "generator.model=scripted",
                                  "datagen=smoke", "logger=none", f"paths.store={tmp_path / 'store'}",
                                  f"hydra.run.dir={tmp_path / 'plan'}", *args],
                                 cwd=REPO, capture_output=True, text=True, timeout=300)
        assert planned.returncode == 0, planned.stderr[-3000:]
        assert sum(server.calls.values()) == 0 and not (tmp_path / "store" / "documents").exists()
        estimate = json.loads((tmp_path / "plan" / "plan.json").read_text())["stages"]["documents"]["llm_calls"]
        built = train(args, tmp_path, "run")["documents"]
    assert built["built"] and estimate == sum(server.calls.values()) == built["llm_usage"]["calls"]
