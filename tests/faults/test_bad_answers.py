"""A server that answers badly (a 200 without choices, an empty answer, a 400) never poisons a rerun: the
level whose requests failed is not recorded as done, nothing empty is cached, the error names each cause
with its count, and once the server is fixed a rerun sends exactly the requests that failed, never one that
was answered. The generator is the scripted writer behind the fault-injecting proxy."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.e2e.conftest import run_train
from tests.faults.harness import TALLY
from tests.faults.test_kills import StatelessWriter, job_args
from tests.integration.servers.fault_proxy import FaultProxy

pytestmark = pytest.mark.slow
CAUSE = {"no_choices": "missing choices x", "empty": "empty content x", "400": "HTTP 400 (bad request (fault proxy)) x"}


@pytest.mark.parametrize("kind", ["no_choices", "empty", "400"])
def test_bad_answers_leave_the_step_unfinished_and_a_rerun_sends_exactly_them(tmp_path, kind):
    store = tmp_path / "store"
    with StatelessWriter().running() as server:
        proxy = FaultProxy(server.base_url.removesuffix("/v1"), fault_rate=0.5, faults=(kind,), seed=3,
                           max_faults_per_body=1)
        proxy.start()
        try:
            args = [*job_args(proxy.base_url, store), "stages=[data]"]
            first = run_train([*args, f"hydra.run.dir={tmp_path / 'first'}"])
            assert first.returncode == 1, first.stderr[-2000:]
            faulted, answered = list(proxy.faulted_bodies), list(proxy.forwarded_bodies)
            assert faulted and proxy.injected[kind] == len(faulted)
            assert f"{CAUSE[kind]} {len(faulted)}" in first.stderr and "no failed attempts" in first.stderr
            assert "a rerun sends only the failed requests" in first.stderr
            assert not list((store / "documents").glob("[0-9a-f]*"))  # nothing published
            state = next((store / "documents" / ".partial").glob("*/docgen_state.json"), None)
            recorded = set(json.loads(state.read_text())) if state else set()
            for entry in (store / "llm_cache").glob("??/*.json"):  # only whole answers are cached
                assert json.loads(entry.read_text())["response"]["text"].strip()

            proxy.fault_rate = 0.0
            again = run_train([*args, f"hydra.run.dir={tmp_path / 'again'}"])
            assert again.returncode == 0, again.stderr[-2000:]
        finally:
            proxy.stop()
    # The rerun sent each failed request once more and no answered one. (A body can go out twice in one run as
    # two requests, a list step's top-up round asking again with another sample index: so counted, not a set.)
    seen = set(faulted) | set(answered)
    assert Counter(b for b in proxy.forwarded_bodies[len(answered):] if b in seen) == Counter(faulted)
    failed_level = next(level for level in ("domains", "subdomains", "assertions", "doc_types", "ideas", "documents")
                        if level not in recorded)
    assert f"docgen {failed_level}:" in first.stderr
    TALLY.faults += len(faulted)
