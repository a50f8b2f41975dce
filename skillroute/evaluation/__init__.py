"""Measuring routing: metrics, the evaluator, cross-validation and leave-skills-out studies, baselines and
the HTML report. Install with the ``[eval]`` extra.
"""

from .._lazy import attach

_LOCATIONS = {
    "BASELINES": "._baselines",
    "run_baselines": "._baselines",
    "RoutingEvaluator": "._evaluate",
    "effective_labels": "._metrics",
    "top1_accuracy": "._metrics",
    "recall_at_k": "._metrics",
    "per_label_scores": "._metrics",
    "confusion": "._metrics",
    "confused_with": "._metrics",
    "expected_calibration_error": "._metrics",
    "weighted_accuracy": "._metrics",
    "binary_prf": "._metrics",
    "PROFILE_MIX": "._metrics",
    "render_html": "._report",
    "cross_validate": "._validation",
    "leave_skills_out": "._validation",
}
__all__ = sorted(_LOCATIONS)
__getattr__, __dir__ = attach(__name__, _LOCATIONS)
