"""The exception tree: every error skillroute raises on purpose derives from SkillrouteError."""

from __future__ import annotations

from pathlib import Path


class SkillrouteError(Exception):
    """Base class of skillroute's own errors; the CLI prints its name and message and exits 1."""


def _where(path: Path | None, line: int | None) -> str:
    if path is None:
        return ""
    return f"{path}:{line}: " if line is not None else f"{path}: "


class CatalogError(SkillrouteError):
    """A skill file or directory that cannot be loaded; names the file and, where known, the line."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = Path(path) if path is not None else None
        self.line = line
        self.reason = message
        super().__init__(f"{_where(self.path, line)}{message}")


class DataError(SkillrouteError):
    """A labelled-prompt file that breaks the format; names the file, the line and the field."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None):
        self.path = Path(path) if path is not None else None
        self.line = line
        self.field = field
        self.reason = message
        field_part = f"field '{field}': " if field is not None else ""
        super().__init__(f"{_where(self.path, line)}{field_part}{message}")


class ModelError(SkillrouteError):
    """The embedding model cannot be resolved, verified or loaded."""


class NotFittedError(SkillrouteError, ValueError):
    """A fitted component was used before `fit` was called."""
