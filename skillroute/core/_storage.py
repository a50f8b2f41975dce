"""Where skillroute keeps its files, and how it writes them: the per-user cache folder (a private temporary
one when it cannot be written), atomic writes, file hashes and first-use progress notes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "atomic_write_bytes", "sha256_file", "file_sha256", "progress"]


_USABLE: dict[Path, Path] = {}  # configured cache folder -> the folder used (itself, or a temporary one)


def cache_dir() -> Path:
    """The per-user cache: ``$SKILLROUTE_CACHE``, else ``$XDG_CACHE_HOME/skillroute``, else ``~/.cache/skillroute``.

    A folder that cannot be written (read-only, or under a file) is replaced, for this process, by a temporary
    one, with one warning: routing still works, it only redoes the first-use work on the next run.
    """
    env = os.environ.get("SKILLROUTE_CACHE")
    if env:
        wanted = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME")
        wanted = (Path(base) if base else Path.home() / ".cache") / "skillroute"
    if wanted not in _USABLE:
        _USABLE[wanted] = _writable_or_temporary(wanted)
    return _USABLE[wanted]


def _writable_or_temporary(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe.", delete=True)  # noqa: SIM115
        probe.close()
        return folder
    except OSError as exc:
        import warnings

        fallback = _private_temp_cache()
        warnings.warn(f"the cache folder {folder} cannot be written ({exc.strerror or exc}); using {fallback} "
                      "instead: set SKILLROUTE_CACHE to a writable folder", stacklevel=3)
        return fallback


def _private_temp_cache() -> Path:
    """This user's own folder in the temporary directory (0700, owned by the user, not a link), reused across
    runs so the first-use work is not redone each time; a fresh one when that cannot be trusted."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = Path(tempfile.gettempdir()) / f"skillroute-cache-{uid}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
        import stat

        if stat.S_ISDIR(st.st_mode) and (not hasattr(os, "getuid") or st.st_uid == uid) and not st.st_mode & 0o077:
            return path
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="skillroute-cache-"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it over, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered in the cache by (path, size, mtime) so a warm start does not re-hash 90 MB."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:32]
    memo = cache_dir() / "sha256" / f"{key}.txt"
    try:
        value = memo.read_text().strip()
        if len(value) == 64:
            return value
    except OSError:
        pass
    value = sha256_file(path)
    try:
        atomic_write_bytes(memo, value.encode())
    except OSError:
        pass
    return value


def progress(message: str) -> None:
    """A one-line note on stderr for slow first-use steps, so a first run never sits silent."""
    import sys

    print(f"skillroute: {message}", file=sys.stderr, flush=True)
