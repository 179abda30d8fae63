"""The Slurm integration tests need the real single-node cluster of ``scripts/slurm/start.sh`` (CI starts it
in ``.ci/run``). Without one they skip, unless ``MSM_REQUIRE_SLURM=1`` (set by CI) makes that a failure."""

import os
import subprocess

import pytest


def cluster_up() -> bool:
    try:
        return subprocess.run(["scontrol", "ping"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pytest_collection_modifyitems(config, items):
    mine = [i for i in items if "tests/slurm/" in str(i.fspath)]
    for item in mine:
        item.add_marker(pytest.mark.slurm)
    if mine and not cluster_up():
        if os.environ.get("MSM_REQUIRE_SLURM") == "1":
            raise pytest.UsageError("MSM_REQUIRE_SLURM=1 but no Slurm cluster answers `scontrol ping`: "
                                    "run sudo scripts/slurm/start.sh first")
        for item in mine:
            item.add_marker(pytest.mark.skip(reason="no Slurm cluster (sudo scripts/slurm/start.sh starts one)"))
