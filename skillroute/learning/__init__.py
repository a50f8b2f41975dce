"""Learning from labelled prompts: the fitted head (scikit-learn) and the description-reading fine-tune
(torch, peft). Install with the ``[fit]`` extra; what they produce is applied by ``skillroute.core``.
"""

from .._lazy import attach

_LOCATIONS = {
    "Episode": "._finetune",
    "finetune": "._finetune",
    "finetune_episodes": "._finetune",
    "mean_pool": "._finetune",
    "LORA_TARGETS": "._finetune",
    "fit_router": "._fit_router",
    "fit_head": "._head_fit",
}
__all__ = sorted(_LOCATIONS)
__getattr__, __dir__ = attach(__name__, _LOCATIONS)
