"""A fitted router's learned state, and its artifact folder: read (validated) and written (atomically).

The folder holds ``head.npz``, ``vocabulary.json`` and ``meta.json`` (the head, applied with numpy) and, for a
fine-tuned router, ``encoder-lora.safetensors`` (the delta, merged into the base model with numpy once per
machine). Nothing in it is pickled.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ._delta import ADAPTER_FILE, LoraDelta, merged_model
from ._encoder import Encoder
from ._head import FittedHead

__all__ = ["Fitted", "load_artifact", "save_artifact", "FITTED_SUBDIR"]

FITTED_SUBDIR = ".skillroute/fitted"  # where a catalog directory ships its fitted router


@dataclass
class Fitted:
    """What ``Router.fit`` or ``Router.load_fitted`` sets, as one object."""

    head: FittedHead
    adapter: LoraDelta | None = None  # the delta fit() trained (to save), when it fine-tuned
    encoder: Encoder | None = None  # base + delta merged: what a fine-tuned router encodes with (None: base)
    stale_skills: list[str] = field(default_factory=list)  # descriptions changed since the fit
    source: Path | None = None  # the artifact folder it was loaded from


def merged_for(folder: Path, adapter: dict[str, Any], base: Encoder) -> Path:
    """The merged model folder for the delta an artifact names, merged now if this machine lacks it."""
    source = getattr(base, "source", None)
    if source is None or source.path is None:
        raise ModelError(f"{folder} holds a fine-tuned encoder delta; it needs the local base model it was "
                         "trained on (the packaged one), not this encoder")
    found = merged_model(source, delta_sha=adapter["sha256"], build=False)
    if found is not None:
        return found
    delta = LoraDelta.load(folder)
    if delta.sha256 != adapter["sha256"]:
        raise ModelError(f"{folder}: the LoRA delta does not match meta.json (sha256 {delta.sha256[:12]}… vs "
                         f"{adapter['sha256'][:12]}…); refit with `skillroute fit`")
    return merged_model(source, delta)


def load_artifact(folder: str | os.PathLike[str], base: Encoder, model_sha: str,
                  descriptions: dict[str, str], reader_sha: str | None, tuned_encoder) -> Fitted:
    """Read and check an artifact against this model and catalog; ``tuned_encoder(folder)`` opens a merged
    model with the base encoder's backend."""
    folder = Path(folder)
    head = FittedHead.load(folder)
    stale = head.check(model_sha, descriptions)
    adapter = head.meta.get("adapter")
    encoder = None
    if adapter:
        encoder = tuned_encoder(merged_for(folder, adapter, base))
    elif head.meta.get("reader_sha256") != reader_sha:
        raise ModelError(f"{folder}: this head was fitted on another encoder (general reader "
                         f"{head.meta.get('reader_sha256')} vs {reader_sha}); refit with `skillroute fit`")
    return Fitted(head, None, encoder, stale, folder)


def save_artifact(fitted: Fitted, folder: str | os.PathLike[str]) -> Path:
    """Write the artifact whole into a temporary folder beside ``folder`` and swap it in, so a write that is
    killed leaves the old artifact (or none), never half of one."""
    out = Path(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    old = out.with_name(f".{out.name}.old")
    try:
        fitted.head.save(tmp)
        if fitted.adapter is not None:
            fitted.adapter.save(tmp)
        elif fitted.head.meta.get("adapter") and fitted.source is not None:
            shutil.copyfile(fitted.source / ADAPTER_FILE, tmp / ADAPTER_FILE)
        tmp.chmod(0o755)
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return out
