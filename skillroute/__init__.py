"""skillroute: decide which skill of an AI coding agent should handle a request, offline, in milliseconds.

The public names are imported lazily, so ``import skillroute`` loads neither numpy nor any model library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Router", "Decision", "RuleHit", "Catalog", "Skill", "load_catalog", "load_encoder", "FinetuneConfig",
    "SkillrouteError", "CatalogError", "DataError", "ModelError", "NotFittedError", "__version__",
    "tune_skill", "TuneResult",
]

_LOCATIONS = {
    "Router": "router", "Decision": "router", "RuleHit": "router",
    "Catalog": "catalog", "Skill": "catalog", "load_catalog": "catalog",
    "load_encoder": "encoder", "FinetuneConfig": "finetune",
    "SkillrouteError": "errors", "CatalogError": "errors", "DataError": "errors", "ModelError": "errors",
    "NotFittedError": "errors",
    "tune_skill": "tune", "TuneResult": "tune",
}

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog, Skill, load_catalog
    from .encoder import load_encoder
    from .finetune import FinetuneConfig
    from .errors import CatalogError, DataError, ModelError, NotFittedError, SkillrouteError
    from .router import Decision, Router, RuleHit
    from .tune import TuneResult, tune_skill


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        value = getattr(import_module(f".{_LOCATIONS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skillroute' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
