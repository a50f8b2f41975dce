"""skillroute: decide which skill of an AI coding agent should handle a request, offline, in milliseconds.

The layers are subpackages: ``core`` (catalogs, encoders, the scoring engine, the Router: routing needs only
this), ``learning`` (fitting), ``evaluation``, ``authoring`` (explain, lint, compare, tune), ``harness``
(server, hook, harvest, doctor) and ``cli``. The public names below are imported lazily, so
``import skillroute`` loads neither numpy nor any model library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import attach

__version__ = "0.1.0"

_LOCATIONS = {
    "Router": ".core._router", "Decision": ".core._decision", "RuleHit": ".core._decision",
    "Catalog": ".core._catalog", "Skill": ".core._catalog", "load_catalog": ".core._catalog",
    "load_encoder": ".core._encoder", "Example": ".core._dataset", "load_examples": ".core._dataset",
    "FinetuneConfig": ".core._delta", "tune_skill": ".authoring._tune", "TuneResult": ".authoring._tune",
    "SkillrouteError": ".errors", "CatalogError": ".errors", "DataError": ".errors", "ModelError": ".errors",
    "MissingExtraError": ".errors", "NotFittedError": ".errors",
}
__all__ = [
    "Router", "Decision", "RuleHit", "Catalog", "Skill", "load_catalog", "load_encoder", "Example",
    "load_examples", "FinetuneConfig", "tune_skill", "TuneResult", "SkillrouteError", "CatalogError",
    "DataError", "ModelError", "MissingExtraError", "NotFittedError", "__version__",
]
__getattr__, __dir__ = attach(__name__, _LOCATIONS)

if TYPE_CHECKING:  # pragma: no cover
    from .authoring._tune import TuneResult, tune_skill
    from .core._catalog import Catalog, Skill, load_catalog
    from .core._dataset import Example, load_examples
    from .core._decision import Decision, RuleHit
    from .core._delta import FinetuneConfig
    from .core._encoder import load_encoder
    from .core._router import Router
    from .errors import CatalogError, DataError, MissingExtraError, ModelError, NotFittedError, SkillrouteError
