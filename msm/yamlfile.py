"""YAML that a researcher writes (a spec's front matter, scenario and calibration files), read without aliases.

Why: YAML aliases (``&a`` ... ``*a``) let a few hundred bytes expand into gigabytes: a 541-byte spec whose
``meta`` nests aliases ten deep passed the spec checker and then took 38 s and 5 GB to hash, and one level
more ended in a MemoryError naming nothing. msm's own files never need an alias, so a file with one is refused
in one line naming it, before anything is expanded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from msm.errors import MsmError


class YamlAliasError(MsmError):
    """A YAML document uses an alias (``*name``)."""


def load(text: str, where: str | Path) -> Any:
    """``yaml.safe_load(text)``, refusing any alias; ``where`` names the file in the error."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise YamlAliasError(f"{where}: YAML alias *{event.anchor} on line {line}: aliases are not allowed here "
                                 "(a few of them can expand to gigabytes); write the value out")
    return yaml.safe_load(text)
