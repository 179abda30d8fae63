"""The generator's server misbehaving: 30% of requests dropped, stalled past the client's timeout, or
answered 429/500. The job still gets exactly the corpus a healthy server gives, and counts what failed."""

import json

import pytest

from tests.faults.harness import TALLY, artifact_files, builds, run_to_end
from tests.faults.test_kills import StatelessWriter, job_args
from tests.integration.servers.fault_proxy import FaultProxy

pytestmark = pytest.mark.slow


def _data_job(base_url, root, name):
    args = [*job_args(base_url, root / "store"), "stages=[data]", "generator.timeout_s=1.5",
            "generator.backoff_initial_s=0.05", "generator.backoff_max_s=0.5"]
    run_to_end(args, root / name, metrics=False)
    return dict(builds(root / name))["documents"]


def test_a_flaky_server_gives_the_same_corpus_as_a_healthy_one(tmp_path):
    with StatelessWriter().running() as server:
        key = _data_job(server.base_url, tmp_path / "healthy", "job")
        proxy = FaultProxy(server.base_url.removesuffix("/v1"), fault_rate=0.3, faults=("429", "500", "hang", "drop"),
                           seed=7, hang_s=5.0, max_faults_per_body=3)
        proxy.start()
        try:
            flaky_key = _data_job(proxy.base_url, tmp_path / "flaky", "job")
        finally:
            proxy.stop()
    assert flaky_key == key  # the URL is not part of what the corpus depends on
    assert set(proxy.injected) == {"429", "500", "hang", "drop"}, proxy.injected
    assert artifact_files(tmp_path / "flaky" / "store", "documents", key) == \
        artifact_files(tmp_path / "healthy" / "store", "documents", key)
    info = json.loads((tmp_path / "flaky" / "store" / "documents" / key / "manifest.json").read_text())["info"]
    failed = info["total_usage"]["errors"]  # every failed attempt, by cause
    assert sum(failed.values()) == sum(proxy.injected.values()), (failed, proxy.injected)
    assert failed.get("timed out") == proxy.injected["hang"] and failed.get("HTTP 500") == proxy.injected["500"]
    TALLY.faults += sum(proxy.injected.values())
