"""Views of a request: the prose without pasted code or logs, its first sentence and its last.

Real requests often bury the ask above or below a pasted traceback, diff or log; embedding the
paste routes by its topic. The router scores each view and combines them.
"""

from __future__ import annotations

import re

__all__ = ["prose", "views", "read_request", "explicit_invocation", "normalize_request", "MAX_REQUEST_CHARS"]

MAX_REQUEST_CHARS = 16_000  # a longer request keeps its two ends: the ask is at one of them
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize_request(text: str) -> str:
    """A request made safe to tokenise: lone surrogates replaced, control characters blanked, and the length
    capped (first 12,000 and last 4,000 characters) before any tokenising or scoring."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate ("\ud800") becomes "?"
    text = _CONTROL.sub(" ", text)
    if len(text) > MAX_REQUEST_CHARS:
        text = text[:12_000] + "\n" + text[-4_000:]
    return text

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_NOISE = re.compile(
    r"""^(?:\s{2,}\S|\t                       # indented code, stack frames
    |Traceback\b|\s*File\s"|\s*at\s+[\w.$<>]+\(       # Python / JVM / JS traces
    |\[?\d{4}-\d{2}-\d{2}[T\s]|\[?\d{2}:\d{2}:\d{2}   # timestamps
    |(?:DEBUG|INFO|WARN|WARNING|ERROR|TRACE|FATAL|CRITICAL)\b[\s:\]]
    |diff\s--git|index\s[0-9a-f]+|@@|\+\+\+|---\s                 # diff headers
    |(?:def|class|import|from|const|let|var|function|return|async|await|export|public|private|package|
       \#include|SELECT|INSERT|UPDATE|CREATE|ALTER)\b.*[:({=;,]\s*$
    |[{}\[\]<>]|\$\s|>>>\s|\#\s?\d+\s           # brackets, shell and REPL prompts
    )""",
    re.VERBOSE,
)
_SENTENCE = re.compile(r"(?<=[.!?。？！])\s+|\n+")
_SLASH = re.compile(r"^\s*/([a-z0-9]+(?:-[a-z0-9]+)*)(?=\s|$)")


def _is_noise(line: str) -> bool:
    if _NOISE.match(line):
        return True
    s = line.strip()
    if not s:
        return True
    symbols = sum(ch in "{}()[];=<>|\\/_$#*" for ch in s)
    words = len(re.findall(r"[^\W\d_]{2,}", s))
    return len(s) > 12 and symbols / len(s) > 0.12 and words < 6


_DIFF = re.compile(r"^(?:diff --git|@@ |\+\+\+ )", re.MULTILINE)
_DIFF_LINE = re.compile(r"^[+-](?:\s|$)")


def _prose_lines(text: str) -> list[str]:
    no_fences = _FENCE.sub("\n", text)
    is_diff = bool(_DIFF.search(no_fences))  # "- item" is a diff line in a diff, a bullet elsewhere
    kept = [ln.strip() for ln in no_fences.splitlines()
            if not _is_noise(ln) and not (is_diff and _DIFF_LINE.match(ln))]
    return kept or [" ".join(text.split())[:600]]


def prose(text: str) -> str:
    """The request's prose: fenced blocks and code, log, trace and diff lines removed."""
    return " ".join(_prose_lines(text))


def read_request(text: str, max_words: int = 30) -> tuple[str, list[str]]:
    """The request's prose and its distinct views: the prose, then its first and last sentences when it has several."""
    lines = _prose_lines(text)
    body = " ".join(lines)
    sentences = [s.strip() for ln in lines for s in _SENTENCE.split(ln) if len(s.strip()) > 1]
    out = [body]
    if len(sentences) > 1:
        out.append(" ".join(sentences[0].split()[:max_words]))
        out.append(" ".join(sentences[-1].split()[-max_words:]))
    return body, list(dict.fromkeys(out))


def views(text: str, max_words: int = 30) -> list[str]:
    """Distinct views of a request (see ``read_request``)."""
    return read_request(text, max_words)[1]


def explicit_invocation(text: str) -> tuple[str, str] | None:
    """(name, rest) when the request starts with ``/name``, else None."""
    m = _SLASH.match(text)
    if not m:
        return None
    return m.group(1), text[m.end():].strip()
