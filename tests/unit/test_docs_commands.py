"""Every command the README and the docs site show either works here or says what it needs.

A shell line in a ```bash block of README.md or docs/ is one of:

- ``python train.py ...``: composed and planned here as Hydra will run it (msm's ``seed=N-M`` shorthand, ``-m``
  or not, the experiment's own grid, every job's artifacts and keys): a typo in a key, a group option that does
  not exist, or a job the plan finds a problem with fails. The presets themselves run at tiny size in tests/e2e;
- marked ``# needs: gpu``, ``# needs: api key`` or ``# needs: cluster``: it cannot run on a CPU-only machine
  without keys (the marker is the reader's warning); a ``python train.py`` line is still composed (its launcher
  left out), every job of it, but not planned;
- ``python -m <module>``, ``python <file>.py``, ``make <target>``, ``scripts/...``, a console script of the
  project's environment (``inspect view``, ``mkdocs serve``): the module, file, target or script exists;
- ``export``/``cd``/``VAR=value`` lines set up the ones after them and are not checked;
- anything else fails: mark it, or teach this test to check it.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode

from msm.config import register_configs
from msm.paths import CONF_DIR
from msm.plan import job_configs, sweep_plan, task_config

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from train import expand_shorthand  # noqa: E402

register_configs()
NEEDS = re.compile(r"#\s*needs:\s*(gpu|api key|cluster)\b")
FENCE = re.compile(r"^\s*```\s*([\w+-]*)")  # an info string may carry attributes after the language
SHELLS = ("bash", "sh", "shell")
PROMPT = re.compile(r"^(?:\$\s+)?")
PYTHONS = ("python", ".venv/bin/python", "python3")


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def shell_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, command) of every logical line in the file's ```bash/```sh/```shell blocks."""
    out, lang, pending, start = [], None, "", 0
    for no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = FENCE.match(raw)
        if fence:
            lang, pending = (None if lang is not None else fence.group(1) or ""), ""
            continue
        if lang not in SHELLS:
            continue
        line = PROMPT.sub("", raw.strip())
        if not pending:
            start = no
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line and not line.startswith("#"):
            out.append((start, line))
    return out


def commands(line: str) -> list[str]:
    """The commands of one shell line (``a && b``, ``a; b``, the first of ``a | b``), each keeping the line's
    ``# needs:`` marker; the comment itself is not split."""
    marker = NEEDS.search(line)
    code = line.split(" #", 1)[0]
    parts = [p.split(" | ", 1)[0].strip() for p in re.split(r"\s(?:&&|;)\s", code)]
    return [p + (f"  # needs: {marker.group(1)}" if marker else "") for p in parts if p]


COMMANDS = [(f"{p.relative_to(REPO)}:{no}", cmd) for p in doc_files() for no, line in shell_lines(p)
            for cmd in commands(line)]


def _argv(line: str) -> list[str]:
    line = re.sub(r"<([^<>]+)>", lambda m: "<" + m.group(1).replace(" ", "_") + ">", line)  # one word a placeholder
    argv = shlex.split(line, comments=True)
    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0]):  # VAR=value before the command
        argv.pop(0)
    return argv


def _placeholder(arg: str, tmp: Path) -> str:
    """``<sweep folder>`` and the like become a real path, so the line composes; ``key=~/x`` is expanded as
    bash expands it in an argument that looks like an assignment."""
    arg = re.sub(r"^([\w.+/-]+)=~/", lambda m: f"{m.group(1)}={Path.home()}/", arg)
    return re.sub(r"<[^>]+>", str(tmp / "placeholder"), arg)


CHECKED: set[str] = set()
"""Command lines already composed and planned without a problem: a line shown on several pages is checked once."""


def test_the_docs_show_commands():
    assert len(COMMANDS) > 40, "the README and docs/ should show their commands in ```bash blocks"


@pytest.mark.parametrize("where, line", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_every_command_works_here_or_says_what_it_needs(where, line, tmp_path, monkeypatch):
    argv = _argv(line)
    if not argv or argv[0] in ("export", "cd", "source", "unset"):
        return  # setting up what follows
    if NEEDS.search(line) and argv[:2] != ["python", "train.py"]:
        return  # not runnable here, as it says
    if argv[0] == "make":
        targets = re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), flags=re.M)
        assert all(t in targets for t in argv[1:] if "=" not in t), f"{where}: no such make target in {line!r}"
        return
    if argv[0].startswith(("scripts/", "./scripts/", "bash")):
        script = argv[1] if argv[0] == "bash" else argv[0]
        assert (REPO / script.removeprefix("./")).is_file(), f"{where}: no such script {script!r}"
        return
    if argv[0] not in PYTHONS and (Path(sys.executable).parent / Path(argv[0]).name).is_file():
        return  # a console script of the project's environment (ruff, inspect, mkdocs, ...)
    assert argv[0] in PYTHONS, (f"{where}: {line!r} is not a command this test can check: end it with "
                                "'# needs: gpu', '# needs: api key' or '# needs: cluster', or teach "
                                "tests/unit/test_docs_commands.py to check it")
    if argv[1] == "-m":
        assert importlib.util.find_spec(argv[2]) is not None, f"{where}: no module {argv[2]!r}"
        return
    if argv[1] != "train.py":
        assert (REPO / argv[1]).is_file(), f"{where}: no such file {argv[1]!r}"
        return
    if line in CHECKED:
        return  # the same line, shown on another page, was composed and planned above
    sweep = "-m" in argv or "--multirun" in argv
    overrides = [_placeholder(a, tmp_path) for a in expand_shorthand(argv[2:]) if a not in ("-m", "--multirun")]
    overrides = [a for a in overrides if not a.startswith(("hydra/launcher=", "hydra.launcher."))]
    monkeypatch.setenv("MSM_STORE", str(tmp_path / "store"))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()  # as Hydra composes it: a comma list needs -m
        config = loader.load_configuration("train", [*overrides, "plan=true"],
                                           run_mode=RunMode.MULTIRUN if sweep else RunMode.RUN)
        jobs = job_configs(config) if sweep else [task_config(config)]
        if NEEDS.search(line):
            CHECKED.add(line)
            return  # composed, every job of it; its plan may rightly need the GPU, key or cluster it names
        plan = sweep_plan(jobs)
    assert plan["jobs"] >= 1, f"{where}: {line!r} plans no job"
    if "<" not in line:  # a placeholder stands for a file the reader brings: the plan cannot open it here
        assert not plan["problems"], f"{where}: {line!r}: {plan['problems'][:3]}"
    CHECKED.add(line)
