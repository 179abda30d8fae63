"""Where the project's own folders are: the one place that knows the repository layout.

A job launched from any folder still finds the packaged configs and specs, so ``spec.path`` and the
CLIs resolve relative paths against the launch folder first and against :data:`REPO` second.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"
SPECS_DIR = REPO / "specs"
