"""Errors a user can act on.

Anything raised as an ``MsmError`` is a problem with the user's input or environment (a malformed
spec, an empty dataset, a diverged run), not a bug: ``train.py`` prints its message on one line and
exits non-zero instead of dumping a traceback.
"""


class MsmError(Exception):
    """Base class for errors whose message alone tells the user what to fix."""


class SpecError(MsmError):
    """A Model Spec file is missing or malformed. The message names the file and the field."""

    def __init__(self, path, field: str | None, message: str):
        self.path, self.field, self.problem = str(path), field, message
        where = f"{self.path}: field '{field}'" if field else self.path
        super().__init__(f"{where}: {message}")


class EmptyDatasetError(MsmError):
    """A stage produced or received no rows to work on."""


class NonFiniteLossError(MsmError):
    """Training diverged (NaN or inf loss); nothing is published for the stage."""
