"""A fine-tuned encoder delta (LoRA, fp16 safetensors) and its merge into the base model with numpy, so
routing with a fitted router needs neither torch nor peft. ``skillroute.learning`` trains the delta.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ._encoder import ModelSource
from ._storage import atomic_write_bytes, cache_dir, progress

__all__ = ["FinetuneConfig", "LoraDelta", "merged_model", "describe", "ADAPTER_FILE", "GENERAL_READER",
           "packaged_reader"]

ADAPTER_FILE = "encoder-lora.safetensors"


@dataclass(frozen=True)
class FinetuneConfig:
    """Hyper-parameters of the fine-tune. The defaults were measured on this project's eval set: 120 steps of
    32 requests cut to 128 tokens, LoRA rank 8 (learning rate 5e-4), log-sum-exp scale 20."""

    steps: int = 120
    batch_size: int = 32
    learning_rate: float = 5e-4
    rank: int = 8
    alpha: int = 16
    scale: float = 20.0
    max_length: int = 128
    seed: int = 0


@dataclass
class LoraDelta:
    """A trained LoRA delta: fp16 arrays keyed by peft's parameter names, and the config that made them."""

    tensors: dict[str, np.ndarray]
    config: FinetuneConfig
    base_sha256: str
    history: list[float]  # training loss per step

    @property
    def sha256(self) -> str:
        h = hashlib.sha256(self.base_sha256.encode())
        for k in sorted(self.tensors):
            h.update(k.encode())
            h.update(np.ascontiguousarray(self.tensors[k], dtype=np.float16).tobytes())
        return h.hexdigest()

    @property
    def n_parameters(self) -> int:
        return int(sum(v.size for v in self.tensors.values()))

    def save(self, folder: str | Path) -> Path:
        """Write the delta as safetensors (fp16, no pickle) with its config in the header metadata."""
        from safetensors.numpy import save

        path = Path(folder) / ADAPTER_FILE
        meta = {"config": json.dumps(asdict(self.config)), "base_sha256": self.base_sha256}
        data = save({k: np.ascontiguousarray(v, dtype=np.float16) for k, v in self.tensors.items()}, metadata=meta)
        atomic_write_bytes(path, data)
        path.chmod(0o644)  # an artifact to commit and share, not a private temporary file
        return path

    @classmethod
    def load(cls, folder: str | Path) -> LoraDelta:
        from safetensors import SafetensorError, safe_open

        path = Path(folder) / ADAPTER_FILE
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = fh.metadata() or {}
                tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no items()
            config = FinetuneConfig(**json.loads(meta["config"]))
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
            raise ModelError(f"{path}: not a readable LoRA delta ({exc}); refit with `skillroute fit`") from exc
        return cls(tensors, config, meta.get("base_sha256", ""), [])


def _merged_dir(base_sha: str, delta_sha: str) -> Path:
    key = hashlib.sha256(f"{base_sha}|{delta_sha}".encode()).hexdigest()[:32]
    return cache_dir() / "merged" / key


def merged_model(source: ModelSource, delta: LoraDelta | None = None, *, delta_sha: str | None = None,
                 build: bool = True) -> Path | None:
    """The folder of base + delta merged (a plain sentence-transformers model), made once in the cache with
    numpy (``W + alpha/rank · B @ A``, as peft merges), so routing with a fitted delta needs no torch.

    With only ``delta_sha`` it is looked up without building; ``build=False`` returns None when missing.
    """
    if source.path is None or source.sha256 is None:
        raise ModelError("merging a LoRA delta needs a local base model folder")
    sha = delta.sha256 if delta is not None else delta_sha
    if sha is None:
        raise ValueError("give the delta or its sha256")
    out = _merged_dir(source.sha256, sha)
    if (out / "merged.json").is_file():
        return out
    if not build or delta is None:
        return None
    if delta.base_sha256 and delta.base_sha256 != source.sha256:
        raise ModelError(f"the LoRA delta was trained on model {delta.base_sha256[:12]}…, not {source.sha256[:12]}…; "
                         "refit with `skillroute fit`")
    from safetensors.numpy import load_file, save_file

    from ._bert_onnx import merge_lora

    progress(f"merging an encoder delta (a fitted router's or the general reader's) into the base model in "
             f"{out.parent} (once, a few seconds)")
    weights = merge_lora(load_file(str(source.path / "model.safetensors")), delta.tensors,
                         delta.config.alpha / delta.config.rank)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for item in source.path.iterdir():  # the sentence-transformers files (pooling, config) come along
            if item.name in ("model.safetensors", "pytorch_model.bin") or item.name.startswith("onnx"):
                continue
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
        save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "merged.json").write_text(json.dumps({"base_sha256": source.sha256, "delta_sha256": sha}) + "\n")
        try:
            os.replace(tmp, out)
        except OSError:  # another process merged it first
            if not (out / "merged.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def describe(delta: LoraDelta) -> dict[str, Any]:
    """What the artifact's meta.json records about a delta."""
    return {"file": ADAPTER_FILE, "sha256": delta.sha256, "parameters": delta.n_parameters,
            "config": asdict(delta.config), "final_loss": delta.history[-1] if delta.history else None}


# the general description reader shipped with the package: a LoRA delta over the packaged all-MiniLM-L6-v2,
# trained on 33 synthetic catalogs by train/general/train.py (README: "A general reader")
GENERAL_READER = Path(__file__).resolve().parents[1] / "data" / "general"


@lru_cache(maxsize=1)
def _packaged() -> LoraDelta | None:
    return LoraDelta.load(GENERAL_READER) if (GENERAL_READER / ADAPTER_FILE).is_file() else None


def packaged_reader(source: ModelSource | None) -> LoraDelta | None:
    """The packaged general reader (read once per process) when ``source`` is the model it was trained on."""
    delta = _packaged()
    if source is None or delta is None or source.sha256 is None:
        return None
    return delta if source.sha256 == delta.base_sha256 else None
