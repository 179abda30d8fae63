"""The fault-injection suite (``pytest tests/faults``; part of the default run and of CI): kill -9 at
seeded random points of every stage, concurrent jobs on one store with kills between them, a generator
server that drops, stalls and answers 429/500, and bad inputs. Its summary line counts what it did."""

import pytest

from tests.faults.harness import TALLY


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter):
    if not (TALLY.kills or TALLY.faults or TALLY.bad_inputs):
        return
    per_stage = ", ".join(f"{s} {n}" for s, n in TALLY.kills_by_stage.items())
    terminalreporter.write_line(
        f"fault suite: {TALLY.kills} kills survived ({per_stage}), {TALLY.faults} faults injected, "
        f"{TALLY.bad_inputs} bad inputs tried, {TALLY.lost} lost artifacts")
