"""Real servers for the integration tests: ``transformers serve`` over the tiny model, a fault-injecting
proxy in front of it, and a local stand-in for the Anthropic API. Every wait is bounded and every
server is stopped in teardown (processes by their own pid)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.servers.anthropic_standin import AnthropicStandIn
from tests.integration.servers.background import free_port
from tests.integration.servers.fault_proxy import FaultProxy

SERVE_START_TIMEOUT_S = 120


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: talks to real local servers (transformers serve, stand-ins)")


def _log_tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def _stop_process(proc: subprocess.Popen, timeout_s: float = 15.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


@pytest.fixture(scope="session")
def openai_server(tiny_model_dir, tmp_path_factory):
    """``transformers serve`` on a free 127.0.0.1 port, pinned to the tiny model, offline, one CPU thread.

    Yields ``(base_url, model)``: base_url ends in ``/v1``; model is the folder path, which is the model
    name the server accepts (it refuses any other while pinned).
    """
    work = tmp_path_factory.mktemp("serve")
    log_path = work / "serve.log"
    port = free_port()
    cli = Path(sys.executable).parent / "transformers"
    cmd = [str(cli), "serve", str(tiny_model_dir), "--device", "cpu", "--dtype", "float32",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(work / "hf_home"),
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {proc.returncode}:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"transformers serve not ready after {SERVE_START_TIMEOUT_S}s:\n{_log_tail(log_path)}")
            try:
                if httpx.get(f"{root}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        # One real completion, so the first test does not pay for warm-up.
        r = httpx.post(f"{root}/v1/chat/completions", timeout=60, json={
            "model": str(tiny_model_dir), "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
        r.raise_for_status()
        yield f"{root}/v1", str(tiny_model_dir)
    finally:
        _stop_process(proc)


@pytest.fixture
def fault_proxy(openai_server):
    """A FaultProxy (no faults until a test sets ``fault_rate``) in front of the real server."""
    base_url, _ = openai_server
    proxy = FaultProxy(base_url.removesuffix("/v1"), hang_s=20.0)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def anthropic_standin():
    """The local Anthropic API stand-in (the real API is unreachable from here), expecting no particular key."""
    with AnthropicStandIn().running() as server:
        yield server
