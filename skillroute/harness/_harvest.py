"""Read the prompts a person typed to a coding agent out of its session logs.

Four log formats: aider's `.aider.input.history` (and `.aider.chat.history.md`), SpecStory's
`.specstory/history/*.md`, Cursor's Markdown chat exports and Claude Code's JSONL transcripts
(`~/.claude/projects/<project>/*.jsonl`). Text a tool made is not a prompt: slash commands and their
expansions, IDE context blocks, hook output, interruptions, auto-generated "fix this error" templates,
y/n answers and prompts repeated by automation are dropped. Secrets that look like keys are masked.
Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import zip_longest
from pathlib import Path

from ..errors import DataError

__all__ = ["Turn", "harvest", "harvest_file", "parse_log", "log_kind", "is_tool_made", "mask_secrets",
           "trim", "text_sha256"]

# A gap this long between two aider inputs starts a new session (aider's history has no session marker).
SESSION_GAP = timedelta(minutes=30)
MIN_CHARS = 12


@dataclass(frozen=True)
class Turn:
    """One typed user prompt with where it came from; ``label`` is the skill the host used, if known."""

    prompt: str
    source: str  # the log file
    kind: str  # aider | aider-chat | specstory | cursor | claude
    session: str  # session id (Claude Code) or an ordinal within the file
    turn: int  # index of the user turn within its file, counting every user turn before filtering
    first_in_session: bool
    timestamp: str | None = None
    label: str | None = None
    label_source: str | None = None  # "host" (the agent invoked that skill) or "explicit" (`/skill`)

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- what is not a typed prompt ------------------------------------------------------------------------

_TOOL_BLOCKS = re.compile(
    r"<(ide_opened_file|ide_selection|ide_diagnostics|system-reminder|user-prompt-submit-hook|"
    r"local-command-stdout|local-command-stderr|command-stdout|bash-stdout|bash-stderr|bash-input|"
    r"additional_data|attached_files|user_info|rules|cursor_commands)>.*?</\1>",
    re.DOTALL,
)
_TOOL_MADE = re.compile(
    r"^\s*(?:\[Request interrupted by user|<command-name>|<command-message>|Caveat: The messages below were "
    r"generated|This session is being continued from a previous conversation|For the code present, we get "
    r"this error|Implement the plan as specified|Please fix the following (?:linter )?errors?:?\s*$|"
    r"Fix any (?:lint|linter) errors|\[Image #?\d*\]\s*$|<bash-|<task-notification>|Base directory for this skill)",
    re.IGNORECASE,
)
_ANSWER = re.compile(
    r"^\s*(?:y|n|yes|no|ok|okay|k|sure|yep|nope|continue|go|go on|go ahead|proceed|done|next|thanks|thank you|"
    r"do it|retry|again|1|2|3|a|b|c)[\s.!]*$",
    re.IGNORECASE,
)
# aider's own commands; `/ask` is kept (ask is a catalog skill), `/code` and `/architect` are modes
_AIDER_MODE = re.compile(r"^/(?:code|architect)\s+", re.IGNORECASE)


def is_tool_made(text: str) -> bool:
    """True for text a tool wrote into the user's turn, or an answer too short to route."""
    stripped = text.strip()
    if len(stripped) < MIN_CHARS or _ANSWER.match(stripped) or _TOOL_MADE.match(stripped):
        return True
    return False


def _clean(text: str) -> str:
    text = _TOOL_BLOCKS.sub("", text).strip()
    return _AIDER_MODE.sub("", text)


_SECRETS = [
    re.compile(r"\b(?:sk|pk|rk)-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{5,}"),  # a JWT
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),  # an e-mail address
]
# a value given to a key named like a secret: the name is kept, the value masked
_ASSIGNED = re.compile(r"(?i)\b((?:password|passwd|secret|token|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"']{6,}")


def mask_secrets(text: str) -> tuple[str, int]:
    """Replace what looks like a key, token, password or e-mail address; returns the text and the count."""
    count = 0
    for pattern in _SECRETS:
        text, n = pattern.subn("[MASKED]", text)
        count += n
    text, n = _ASSIGNED.subn(r"\1[MASKED]", text)
    return text, count + n


def trim(text: str, limit: int = 1500, head: int = 1050, tail: int = 350) -> str:
    """Keep the two ends of a long prompt (the ask is usually at one of them) around a `[…]` line."""
    if len(text) <= limit:
        return text
    return f"{text[:head].rstrip()}\n[…]\n{text[-tail:].lstrip()}"


# -- the formats ---------------------------------------------------------------------------------------

def log_kind(path: str | Path) -> str | None:
    """Which log format a file name says it holds, or None."""
    p = str(path).replace("\\", "/")
    name = p.rsplit("/", 1)[-1]
    if name == ".aider.input.history":
        return "aider"
    if name == ".aider.chat.history.md":
        return "aider-chat"
    if "/.specstory/history/" in f"/{p}" and name.endswith(".md"):
        return "specstory"
    if ("/.cursor/chats/" in f"/{p}" or "cursor" in name.lower()) and name.endswith(".md"):
        return "cursor"
    if name.endswith(".jsonl"):
        return "claude"
    return None


def _aider(text: str) -> Iterator[tuple[str, str | None]]:
    stamp: str | None = None
    buf: list[str] = []
    for line in text.splitlines():
        if line.startswith("# ") and re.match(r"^# \d{4}-\d\d-\d\d", line):
            if buf:
                yield "\n".join(buf), stamp
            buf, stamp = [], line[2:].strip()
        elif line.startswith("+"):
            buf.append(line[1:])
    if buf:
        yield "\n".join(buf), stamp


def _aider_chat(text: str) -> Iterator[tuple[str, str | None]]:
    buf: list[str] = []
    for line in text.splitlines():
        if line.startswith("####"):
            buf.append(line[5:].rstrip())
        elif buf:
            yield "\n".join(buf), None
            buf = []
    if buf:
        yield "\n".join(buf), None


_SPEC_MARK = re.compile(r"^_\*\*(?P<who>[A-Za-z]+)[^*\n]*\*\*_\s*$", re.MULTILINE)
_CURSOR_MARK = re.compile(r"^\*\*(?P<who>User|Cursor|Assistant|AI|Agent|Claude)\*\*:?\s*$", re.MULTILINE)


def _marked(text: str, marks: re.Pattern[str]) -> Iterator[tuple[str, str | None]]:
    found = list(marks.finditer(text))
    for m, nxt in zip_longest(found, found[1:]):
        if m.group("who").lower() != "user":
            continue
        body = text[m.end(): nxt.start() if nxt else len(text)]
        body = re.sub(r"\n-{3,}\s*$", "", body.strip()).strip()  # the separator before the next speaker
        stamp = re.search(r"\((\d{4}-\d\d-\d\d[^)]*)\)", m.group(0))
        yield body, stamp.group(1) if stamp else None


def _claude(text: str, source: str) -> Iterator[tuple[str, str | None, str, str | None]]:
    """(text, timestamp, session, skill the agent invoked in answer to it) per typed user message."""
    pending: list[list] = []  # [text, stamp, session, skill] awaiting the assistant's answer
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"not a JSON line: {exc.msg}", source, n) from None
        if not isinstance(event, dict):
            continue
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        content = message.get("content")
        if event.get("type") == "user" and not event.get("isMeta") and not event.get("isSidechain"):
            if isinstance(content, str):
                body = content
            elif isinstance(content, list):  # tool results come back as user messages: not typed
                if any(isinstance(c, dict) and c.get("type") == "tool_result" for c in content):
                    continue
                body = "\n".join(c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text")
            else:
                continue
            pending.append([body, event.get("timestamp"), str(event.get("sessionId") or ""), None])
        elif event.get("type") == "assistant" and pending and isinstance(content, list):
            for c in content:
                if isinstance(c, dict) and c.get("type") == "tool_use" and c.get("name") == "Skill":
                    skill = (c.get("input") or {}).get("skill")
                    if isinstance(skill, str) and pending[-1][3] is None:
                        pending[-1][3] = skill
    for body, stamp, session, skill in pending:
        yield body, stamp, session, skill


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1)).replace(tzinfo=None)
    except ValueError:
        return None


def parse_log(text: str, kind: str, source: str = "<text>") -> list[Turn]:
    """Every typed prompt of one log, in order, with the tool-made turns dropped."""
    if kind == "claude":
        raw = [(t, s, sess, skill) for t, s, sess, skill in _claude(text, source)]
    else:
        reader = {"aider": _aider, "aider-chat": _aider_chat,
                  "specstory": lambda t: _marked(t, _SPEC_MARK), "cursor": lambda t: _marked(t, _CURSOR_MARK)}
        if kind not in reader:
            raise DataError(f"unknown log kind {kind!r}", source)
        raw = [(t, s, None, None) for t, s in reader[kind](text)]
    counts = Counter(_clean(t) for t, *_ in raw)
    turns: list[Turn] = []
    seen: set[str] = set()
    session_no, last = 0, None
    started: set[str] = set()
    for index, (body, stamp, session, skill) in enumerate(raw):
        when = _stamp(stamp)
        if session is None:  # aider and Markdown logs: a long pause (or a new file) starts a session
            if index == 0 or (when is not None and last is not None and when - last > SESSION_GAP):
                session_no += 1
            session = f"s{session_no}"
        last = when or last
        text = _clean(body)
        label, label_source = (skill, "host") if skill else (None, None)
        explicit = re.match(r"^/([a-z0-9][a-z0-9-]*)\b", text)
        if explicit and kind in ("aider", "aider-chat") and explicit.group(1) != "ask":
            continue  # an aider command (/add, /run, …) is not a prompt
        if explicit and label is None:
            label, label_source = explicit.group(1), "explicit"
        if is_tool_made(text) or counts[text] >= 5 or text in seen:
            continue
        seen.add(text)
        masked, _ = mask_secrets(text)
        turns.append(Turn(prompt=masked, source=source, kind=kind, session=session, turn=index,
                          first_in_session=session not in started,
                          timestamp=stamp, label=label, label_source=label_source))
        started.add(session)
    return turns


def harvest_file(path: str | Path, kind: str | None = None) -> list[Turn]:
    """The typed prompts of one log file (its kind guessed from its name unless given)."""
    path = Path(path)
    kind = kind or log_kind(path)
    if kind is None:
        raise DataError("not a known agent log (aider, SpecStory, Cursor export or Claude Code JSONL)", path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read log: {exc.strerror or exc}", path) from exc
    return parse_log(text, kind, str(path))


def _log_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        kind = log_kind(path.relative_to(root)) if path.is_file() else None
        if kind is None:
            continue
        if kind == "claude" and ".claude" not in path.parts and "projects" not in path.parts:
            continue  # any JSONL is not a transcript: only under a Claude Code projects folder
        if kind == "aider-chat" and (path.parent / ".aider.input.history").is_file():
            continue  # aider writes each input to both files; the input history is the exact one
        yield path


def harvest(paths: Iterable[str | Path], since: datetime | None = None) -> Iterator[Turn]:
    """Every typed prompt under the given files or folders (each tool's layout), file by file, in order."""
    for root in paths:
        root = Path(root).expanduser()
        if not root.exists():
            raise DataError("no such file or folder", root)
        for file in _log_files(root):
            for turn in harvest_file(file):
                when = _stamp(turn.timestamp)
                if since is not None and when is not None and when < since:
                    continue
                yield turn
