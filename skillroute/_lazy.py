"""Lazy re-exports: a package's public names live in private modules, imported on first use, so importing
``skillroute`` (or the hook) loads neither numpy nor any model library until something needs them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any


def attach(package: str, locations: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``locations`` maps each public name to its module
    (relative to the package)."""

    def __getattr__(name: str) -> Any:
        if name in locations:
            value = getattr(import_module(locations[name], package), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(locations)

    return __getattr__, __dir__
