"""Tools for skill authors: explain one decision, compare two catalogs, lint descriptions, tune a
description against labelled prompts.
"""

from .._lazy import attach

_LOCATIONS = {
    "explain": "._explain",
    "compare": "._explain",
    "checkout_catalog": "._explain",
    "Finding": "._lint",
    "lint": "._lint",
    "host_budget": "._lint",
    "DEFAULT_LISTING_BUDGET": "._lint",
    "PER_DESCRIPTION_LIMIT": "._lint",
    "tune_skill": "._tune",
    "TuneResult": "._tune",
    "Edit": "._tune",
    "ErrorCluster": "._tune",
    "FacetEffect": "._tune",
    "SkillFigures": "._tune",
    "write_description": "._tune",
    "with_description": "._tune",
    "accuracy": "._tune",
}
__all__ = sorted(_LOCATIONS)
__getattr__, __dir__ = attach(__name__, _LOCATIONS)
