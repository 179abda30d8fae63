"""Every resource is bounded: a 50 MB answer, a server that drips a byte a second, a YAML alias bomb in a spec
and a 10 MB line in an item file each end in bounded time and memory with one line naming the cause. Each
runs in a child process that reports its own peak resident memory, so the bound is measured, not assumed.
The peak is ``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` survives ``exec``, so a child forked from a
1 GB test worker would report the worker's size as its own."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from tests.e2e.conftest import REPO, run_train
from tests.faults.harness import TALLY
from tests.integration.servers.background import BackgroundServer

pytestmark = pytest.mark.slow
HUGE_MB = 50


class Misbehaving(BackgroundServer):
    """``/v1/chat/completions`` answered with a body of ``HUGE_MB`` MB (``mode="huge"``), or one byte a second
    (``mode="drip"``)."""

    url_suffix = "/v1"

    def __init__(self, mode: str):
        self.mode = mode
        self.app = FastAPI()

        @self.app.post("/v1/chat/completions")
        async def chat():
            head = '{"id":"x","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,' \
                   '"finish_reason":"stop","message":{"role":"assistant","content":"'

            async def huge():
                yield head.encode()
                for _ in range(HUGE_MB):
                    yield b"a" * (1 << 20)
                yield b'"}}]}'

            async def drip():
                for ch in head:
                    yield ch.encode()
                    await asyncio.sleep(1.0)

            return StreamingResponse(huge() if self.mode == "huge" else drip(), media_type="application/json")


PEAK = ("def PEAK():\n    for line in open('/proc/self/status'):\n        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) / 1024\n")
CLIENT = PEAK + textwrap.dedent("""
    import json, sys, time
    from msm.llm import make_client
    from msm.llm.types import Request
    t = time.monotonic()
    client = make_client({"backend": "openai", "model": "m", "base_url": sys.argv[1], "timeout_s": 3,
                          "max_retries": 0}, cache_dir=None)
    (resp,) = client.complete_many([Request(messages=({"role": "user", "content": "hi"},), max_tokens=256)])
    print(json.dumps({"finish": resp.finish_reason, "cause": resp.cause, "error": resp.error,
                      "seconds": time.monotonic() - t,
                      "peak_mb": PEAK()}))
""")


def _client_against(mode: str) -> dict:
    with Misbehaving(mode).running() as server:
        out = subprocess.run([sys.executable, "-c", CLIENT, server.base_url], cwd=REPO, capture_output=True,
                             text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _baseline_mb() -> float:
    code = PEAK + "import msm.llm\nprint(PEAK())"
    return float(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True).stdout)


def test_a_huge_answer_is_cut_off_in_bounded_memory():
    got = _client_against("huge")
    assert got["finish"] == "error" and got["cause"] == "response too large", got
    assert got["peak_mb"] < _baseline_mb() + 3 * 16 + 64, got  # a few copies of the 16 MiB bound, not 50 MB x n
    TALLY.faults += 1


def test_a_dripping_server_is_cut_off_at_the_deadline():
    got = _client_against("drip")
    assert got["finish"] == "error" and got["cause"] == "timed out", got
    assert got["seconds"] < 3 + 5, got  # timeout_s=3, one attempt: the deadline is for the whole answer
    TALLY.faults += 1


def test_a_yaml_alias_bomb_in_a_spec_is_refused_at_once(tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 11)]
    spec = tmp_path / "bomb.md"
    spec.write_text("---\nid: bomb\ntitle: Bomb\nsummary: s\nmeta:\n" + "\n".join("  " + x for x in levels)
                    + "\nsections: []\n---\n", encoding="utf-8")
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-c", PEAK + "import runpy, sys; sys.argv = ['msm.specs', 'check', "
                          f"{str(spec)!r}]\ntry:\n    runpy.run_module('msm.specs', run_name='__main__')\n"
                          "finally:\n    print('peak_mb', PEAK())"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    said = out.stdout + out.stderr
    assert out.returncode != 0 and "YAML alias *a0" in said and str(spec) in said, said[-2000:]
    peak = float(said.split("peak_mb")[-1].split()[0])
    assert time.monotonic() - t < 30 and peak < 400, (peak, said[-500:])
    TALLY.bad_inputs += 1


def test_a_huge_line_in_an_item_file_is_refused_before_anything_runs(tmp_path):
    items = tmp_path / "items.jsonl"
    row = {"id": "x1", "family": "f", "domain": "d", "value": "affordability", "question": "q" * (10 << 20),
           "options": ["a", "b"], "aligned": 0}
    items.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = run_train(["model=tiny", "logger=none", f"eval.item_files=[{items}]", f"paths.store={tmp_path / 'store'}",
                     f"hydra.run.dir={tmp_path / 'job'}"], timeout=300)
    assert out.returncode == 1 and f"{items}" in out.stderr and "line 1" in out.stderr, out.stderr[-2000:]
    assert "a line of 10," in out.stderr and not (tmp_path / "store" / "documents").exists()
    TALLY.bad_inputs += 1
