"""A fitted router's learned state, and its artifact folder: read (validated) and written (atomically).

The folder holds ``head.npz``, ``vocabulary.json`` and ``meta.json`` (the head, applied with numpy) and, for a
fine-tuned router, ``encoder-lora.safetensors`` (the delta, merged into the base model with numpy once per
machine). Nothing in it is pickled.
"""

from __future__ import annotations

import json
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
from ._storage import sha256_file

__all__ = ["Fitted", "load_artifact", "save_artifact", "verify_files", "FITTED_SUBDIR"]

FITTED_SUBDIR = ".skillroute/fitted"  # where a catalog directory ships its fitted router
REFIT = "refit with `skillroute fit … --out FOLDER` (routing falls back to the description router meanwhile)"


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


def verify_files(folder: Path) -> None:
    """Every file meta.json lists has the sha256 it records: a torn, truncated or edited file is refused before
    anything reads it (a tampered head.npz could otherwise ask numpy for gigabytes)."""
    try:
        files = json.loads((folder / "meta.json").read_text()).get("files")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"{folder / 'meta.json'}: unreadable ({exc}); {REFIT}") from exc
    if not isinstance(files, dict) or not files:
        raise ModelError(f"{folder / 'meta.json'}: lists no file hashes (an artifact from an older skillroute, or "
                         f"edited by hand); {REFIT}")
    for name, digest in files.items():
        path = folder / str(name)
        if "/" in str(name) or not path.is_file():
            raise ModelError(f"{path}: listed in meta.json but missing; {REFIT}")
        if sha256_file(path) != digest:
            raise ModelError(f"{path}: its sha256 is not the one meta.json records: the file was changed or torn; "
                             f"{REFIT}")


def load_artifact(folder: str | os.PathLike[str], base: Encoder, model_sha: str,
                  descriptions: dict[str, str], reader_sha: str | None, tuned_encoder) -> Fitted:
    """Read and check an artifact against this model and catalog; ``tuned_encoder(folder)`` opens a merged
    model with the base encoder's backend."""
    folder = Path(folder)
    verify_files(folder)
    head = FittedHead.load(folder)
    stale = head.check(model_sha, descriptions)
    adapter = head.meta.get("adapter")
    encoder = None
    if adapter:
        encoder = tuned_encoder(merged_for(folder, adapter, base))
    elif head.meta.get("reader_sha256") is None and reader_sha is not None:
        encoder = base  # fitted on the base model before (or without) a general reader: it reads with the base
    elif head.meta.get("reader_sha256") != reader_sha:
        raise ModelError(f"{folder}: this head was fitted on another encoder (general reader "
                         f"{head.meta.get('reader_sha256')} vs {reader_sha}); refit with `skillroute fit`")
    return Fitted(head, None, encoder, stale, folder)


def _remove_stale(out: Path, age_s: float = 600.0) -> None:
    """Temporary folders a killed save left beside ``out`` (older than ``age_s``, so a save running in another
    process keeps its own)."""
    import time

    for leftover in out.parent.glob(f".{out.name}.*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > age_s:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue


def save_artifact(fitted: Fitted, folder: str | os.PathLike[str]) -> Path:
    """Write the artifact whole into a temporary folder beside ``folder`` and swap it in, so a write that is
    killed leaves the old artifact (or none), never half of one."""
    out = Path(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    old = out.with_name(f".{out.name}.old")
    try:
        fitted.head.save(tmp)
        if fitted.adapter is not None:
            fitted.adapter.save(tmp)
        elif fitted.head.meta.get("adapter") and fitted.source is not None:
            shutil.copyfile(fitted.source / ADAPTER_FILE, tmp / ADAPTER_FILE)
        meta = json.loads((tmp / "meta.json").read_text())
        meta["files"] = {f.name: sha256_file(f) for f in sorted(tmp.iterdir()) if f.name != "meta.json"}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        tmp.chmod(0o755)
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return out
