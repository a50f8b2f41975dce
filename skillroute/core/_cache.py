"""On-disk cache of text embeddings, keyed by the encoder's identity and each text's hash.

A catalog re-embeds only the text that changed. A corrupt or unreadable cache file is rebuilt,
never trusted; writes go through a temporary file and a rename.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from ._encoder import Encoder
from ._storage import atomic_write_bytes, cache_dir

__all__ = ["EmbeddingCache", "text_key"]

CHUNK = 256  # texts encoded between two chances to save
SAVE_EVERY_S = 2.0  # at most this long between saves while a big catalog is encoded


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).hexdigest().encode()


class EmbeddingCache:
    """Embeddings of one encoder, stored as ``keys`` and ``vectors`` arrays in one ``.npz`` file."""

    def __init__(self, encoder: Encoder, folder: str | Path | None = None):
        self.encoder = encoder
        folder = Path(folder) if folder is not None else cache_dir() / "embeddings"
        safe = hashlib.sha256(encoder.name.encode()).hexdigest()[:24]
        self.path = folder / f"{safe}.npz"
        self._lock = threading.Lock()
        self._index: dict[bytes, int] | None = None
        self._vectors: np.ndarray | None = None

    def _load(self) -> None:
        self._index, self._vectors = {}, None
        if not self.path.is_file():
            return
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vecs = data["keys"], data["vectors"]
            if keys.ndim != 1 or vecs.ndim != 2 or len(keys) != len(vecs) or not np.isfinite(vecs).all():
                raise ValueError("inconsistent arrays")
        except Exception as exc:  # any damage means: rebuild from the encoder
            warnings.warn(f"embedding cache {self.path} is unreadable ({exc}); rebuilding it", stacklevel=3)
            return
        self._index = {bytes(k): i for i, k in enumerate(keys)}
        self._vectors = vecs.astype(np.float32, copy=False)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts``, from the cache where present, encoding and storing the rest."""
        with self._lock:
            if self._index is None:
                self._load()
            assert self._index is not None
            keys = [text_key(t) for t in texts]
            missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in self._index))
            saved = time.monotonic()
            for at in range(0, len(missing), CHUNK):
                # a big catalog is encoded in chunks and saved as it goes: a first run that is killed (the
                # hook's deadline, Ctrl-C) keeps its progress, and the next run goes on from there
                part = missing[at:at + CHUNK]
                new = self.encoder.encode(part)
                start = 0 if self._vectors is None else len(self._vectors)
                self._vectors = new if self._vectors is None else np.concatenate([self._vectors, new])
                for i, t in enumerate(part):
                    self._index[text_key(t)] = start + i
                if at + CHUNK >= len(missing) or time.monotonic() - saved > SAVE_EVERY_S:
                    self._save()
                    saved = time.monotonic()
            rows = [self._index[k] for k in keys]
            assert self._vectors is not None
            return self._vectors[rows] if rows else np.zeros((0, 0), dtype=np.float32)

    def _save(self) -> None:
        assert self._index is not None and self._vectors is not None
        keys = np.array(sorted(self._index, key=self._index.__getitem__), dtype="S40")
        buf = io.BytesIO()
        np.savez(buf, keys=keys, vectors=self._vectors)
        try:
            atomic_write_bytes(self.path, buf.getvalue())
        except OSError as exc:
            warnings.warn(f"cannot write embedding cache {self.path}: {exc}", stacklevel=3)
