"""The exception tree: every error skillroute raises on purpose derives from SkillrouteError.

    SkillrouteError
    ├── CatalogError      a skill file or folder that cannot be loaded (file, line)
    ├── DataError         a labelled-prompt file that breaks the format (file, line, field)
    ├── ModelError        the model or a fitted artifact cannot be resolved, verified or loaded
    ├── MissingExtraError a feature whose optional dependencies are not installed (names the extra)
    └── NotFittedError    a fitted component used before ``fit`` (also a ValueError, as scikit-learn's)
"""

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


class MissingExtraError(SkillrouteError, ImportError):
    """A feature needs an optional part of the install; the message names the extra to add."""


def require(extra: str, *modules: str) -> None:
    """Raise MissingExtraError unless ``modules`` can be imported; the core install routes, the extras
    (``serve``, ``eval``, ``fit``) add the server, the evaluation and the training stack."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"this needs {', '.join(missing)}, part of the [{extra}] extra: "
                                f"pip install 'skillroute[{extra}]'")


class NotFittedError(SkillrouteError, ValueError):
    """A fitted component was used before `fit` was called."""
