"""Where the project's own folders are: the one place that knows the repository layout.

A job launched from any folder still finds the packaged configs and specs, so ``spec.path`` and the
CLIs resolve relative paths against the launch folder first and against :data:`REPO` second.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"
SPECS_DIR = REPO / "specs"


def default_store() -> Path:
    """The store a job uses when ``paths.store`` is left alone (conf/train.yaml says the same): ``$MSM_STORE``,
    else ``$XDG_CACHE_HOME/msm/store``, else ``~/.cache/msm/store``. For the CLIs that take ``--store``."""
    import os

    cache_home = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(os.environ.get("MSM_STORE") or f"{cache_home}/msm/store").expanduser()
