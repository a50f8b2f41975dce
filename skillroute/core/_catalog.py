"""Load a skill catalog: `DIR/<name>/SKILL.md` files with YAML frontmatter (Agent Skills format)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import CatalogError
from ._catalog_cache import MIN_SKILLS, catalog_key, read_cached, write_cached
from ._rules import ParsedDescription, is_placeholder, parse_description

__all__ = ["Skill", "Catalog", "load_catalog", "read_skill_file", "find_skill_files", "default_skill_dirs",
           "KIND_KEY"]

# libyaml's safe loader where PyYAML was built with it (10x faster on a large catalog), else the Python one
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KIND_KEY = "skillroute-kind"  # inside `metadata`, so the file stays valid for the hosts that read it
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_FILE_BYTES = 1_000_000
SHARED_FACET_MIN = 3  # a trigger facet found in this many skills' descriptions is boilerplate
_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

Kind = Literal["exclusive", "additive"]


@dataclass(frozen=True)
class Skill:
    """One skill: its frontmatter (unknown keys kept), its body and its parsed description."""

    name: str
    description: str
    path: Path
    kind: Kind = "exclusive"
    disabled: bool = False  # `disable-model-invocation: true`: never chosen automatically
    frontmatter: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    body: str = field(default="", compare=False, repr=False)
    parsed: ParsedDescription = field(default=ParsedDescription((), ()), compare=False, repr=False)
    notes: tuple[str, ...] = field(default=(), compare=False, repr=False)  # what a lenient load repaired

    @property
    def triggers(self) -> tuple[str, ...]:
        return self.parsed.triggers

    @property
    def rules(self):
        return self.parsed.rules


def _key_line(front: str, key: str) -> int | None:
    """1-based line, within the file, of a top-level frontmatter key (the file's line 1 is `---`)."""
    for i, line in enumerate(front.splitlines(), start=2):
        if re.match(rf"^{re.escape(key)}\s*:", line):
            return i
    return None


def _slug(text: str) -> str:
    """A valid skill name made from ``text`` ("Ahrefs Automation" → "ahrefs-automation"), or ""."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))[:MAX_NAME].strip("-")


def _first_paragraph(body: str) -> str:
    """The body's first paragraph of prose (headings and code skipped): Claude Code's fallback description."""
    for block in re.split(r"\n\s*\n", body):
        block = block.strip()
        if block and not block.startswith(("#", "```", "|", "<!--", "---")):
            return " ".join(block.split())
    return ""


def read_skill_file(path: str | Path, *, strict: bool = True) -> Skill:
    """Read one SKILL.md; raise CatalogError naming the file and line on bad input.

    ``strict`` enforces the Agent Skills format. Without it, what a host such as Claude Code still loads is
    repaired and noted in ``Skill.notes``: a name that differs from its folder (the name is used), a missing
    name (the folder's), a missing description (the body's first paragraph), a description over 1,024
    characters (cut), and ``metadata`` values skillroute does not read (kept, ignored).
    """
    path = Path(path)
    notes: list[str] = []

    def repair(message: str, line: int | None) -> None:
        if strict:
            raise CatalogError(message, path, line)
        notes.append(str(CatalogError(message, path, line)))

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CatalogError(f"file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a SKILL.md", path)
        raw = path.read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as exc:
        raise CatalogError(f"cannot read file: {exc.strerror or exc}", path) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise CatalogError(f"file is over the {MAX_FILE_BYTES:,}-byte limit for a SKILL.md", path)
    if b"\x00" in raw:
        raise CatalogError("file is binary (contains NUL bytes), not a text SKILL.md", path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CatalogError("file is not valid UTF-8 text", path, line) from exc
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise CatalogError("no YAML frontmatter: the file must start with a line '---'", path, 1)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise CatalogError("frontmatter is not closed: no second '---' line", path, 1) from None
    front = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1:]).strip("\n")
    try:
        data = yaml.load(front, Loader=_SAFE_LOADER)  # a safe loader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogError(f"malformed YAML frontmatter: {problem}", path, line) from exc
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. an impossible date, a huge integer
        raise CatalogError(f"unreadable YAML value in the frontmatter: {exc}", path, 2) from exc
    if not isinstance(data, dict):
        raise CatalogError("frontmatter must be a mapping of keys to values", path, 2)

    name = data.get("name")
    folder = path.parent.name
    if name is None:
        repair("frontmatter has no 'name'", 2)
        name = folder
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > MAX_NAME:
        message = (f"name {name!r} breaks the Agent Skills rules: lowercase letters, digits and single hyphens, "
                   f"at most {MAX_NAME} characters")
        usable = folder if _NAME_RE.match(folder) and len(folder) <= MAX_NAME else _slug(str(name))
        if strict or not usable:
            raise CatalogError(message, path, _key_line(front, "name"))
        notes.append(str(CatalogError(f"{message}; routed as {usable!r}", path, _key_line(front, "name"))))
        name = usable
    elif folder != name:
        repair(f"name {name!r} differs from its folder's name {folder!r}; rename one", _key_line(front, "name"))
    desc = data.get("description")
    if desc is None and not strict and _first_paragraph(body):
        desc = _first_paragraph(body)
        notes.append(str(CatalogError("frontmatter has no 'description'; the body's first paragraph is used", path, 2)))
    if not isinstance(desc, str) or not desc.strip():
        raise CatalogError("frontmatter needs a non-empty string 'description'", path,
                           _key_line(front, "description") or 2)
    desc = desc.strip()
    if len(desc) > MAX_DESCRIPTION:
        repair(f"description is {len(desc)} characters, over the {MAX_DESCRIPTION} allowed "
               f"(routing reads the first {MAX_DESCRIPTION})", _key_line(front, "description"))
        desc = desc[:MAX_DESCRIPTION].rstrip()
    meta = data.get("metadata", {}) or {}
    meta_line = _key_line(front, "metadata")
    if not isinstance(meta, dict):
        repair("'metadata' must be a mapping; it is ignored", meta_line)
        meta = {}
    kind = meta.get(KIND_KEY, "exclusive")
    if kind not in ("exclusive", "additive"):
        raise CatalogError(f"metadata.{KIND_KEY} must be 'exclusive' or 'additive', not {kind!r}", path, meta_line)
    if strict:
        odd = [str(k) for k, v in meta.items() if not (isinstance(k, str) and isinstance(v, str))]
        if odd:
            raise CatalogError(f"metadata key {odd[0]!r}: the Agent Skills format maps strings to strings", path,
                               meta_line)
    disabled = data.get("disable-model-invocation", False)
    if not isinstance(disabled, bool):
        raise CatalogError("'disable-model-invocation' must be true or false", path,
                           _key_line(front, "disable-model-invocation"))
    return Skill(name=name, description=desc, path=path, kind=kind, disabled=disabled,
                 frontmatter=data, body=body, notes=tuple(notes))


@dataclass(frozen=True)
class Catalog:
    """An ordered set of skills, with the problems met while loading it."""

    skills: tuple[Skill, ...]
    errors: tuple[CatalogError, ...] = ()  # bad skills skipped in lenient mode
    warnings: tuple[str, ...] = ()  # shadowed duplicates, redirects to unknown skills

    def __post_init__(self) -> None:
        names = frozenset(s.name for s in self.skills)
        # a placeholder describes nothing: no trigger, no rule, so the skill is left out of routing
        descriptions = {s.name: ParsedDescription((), ()) if is_placeholder(s.description) else
                        parse_description(s.description, names) for s in self.skills}
        # a sentence many skills share ("Always search tools first …") tells none of them apart: left out
        shared = Counter(t.lower() for p in descriptions.values() for t in set(p.triggers))
        common = {t for t, n in shared.items() if n >= SHARED_FACET_MIN}
        if common:
            for name, p in descriptions.items():
                kept = tuple(t for t in p.triggers if t.lower() not in common)
                if kept and len(kept) < len(p.triggers):
                    descriptions[name] = ParsedDescription(kept, p.rules)
        parsed = tuple(dataclasses.replace(s, parsed=descriptions[s.name]) for s in self.skills)
        object.__setattr__(self, "skills", parsed)
        object.__setattr__(self, "_by_name", {s.name: s for s in parsed})
        notes = list(self.warnings)
        for s in parsed:
            if is_placeholder(s.description):
                notes.append(f"{s.path}: the description is a template's placeholder; the skill is left out of "
                             "routing (still invocable as /" + s.name + ")")
            elif not s.triggers:
                notes.append(f"{s.path}: the description holds no positive trigger, only rules or boilerplate; "
                             "the skill is left out of routing (still invocable as /" + s.name + ")")
            for rule in s.rules:
                if rule.redirect and rule.redirect not in names:
                    notes.append(f"{s.path}: rule '{rule.text}' redirects to '{rule.redirect}', "
                                 "which is not in the catalog; the redirect is ignored")
        object.__setattr__(self, "warnings", tuple(dict.fromkeys(notes)))

    @classmethod
    def restored(cls, skills: tuple[Skill, ...], errors: tuple[CatalogError, ...],
                 warnings: tuple[str, ...]) -> Catalog:
        """A catalog whose skills are already parsed (the parsed-catalog cache): nothing is parsed again."""
        new = object.__new__(cls)
        object.__setattr__(new, "skills", skills)
        object.__setattr__(new, "errors", errors)
        object.__setattr__(new, "warnings", warnings)
        object.__setattr__(new, "_by_name", {s.name: s for s in skills})
        return new

    def __iter__(self) -> Iterator[Skill]:
        return iter(self.skills)

    def __len__(self) -> int:
        return len(self.skills)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    def __getitem__(self, name: str) -> Skill:
        try:
            return self._by_name[name]  # type: ignore[attr-defined]
        except KeyError:
            raise KeyError(f"no skill named {name!r} in the catalog") from None

    def fingerprint(self) -> str:
        """A hash of what routing reads (names, kinds, descriptions): equal fingerprints route alike. Computed
        once: a catalog does not change (the server checks it on every request)."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            h = hashlib.sha256()
            for s in sorted(self.skills, key=lambda s: s.name):
                h.update(f"{s.name}\0{s.kind}\0{s.disabled}\0{s.description}\0".encode())
            cached = h.hexdigest()[:16]
            object.__setattr__(self, "_fingerprint", cached)
        return cached

    def problems(self, limit: int = 3) -> str | None:
        """One bounded paragraph on what loading skipped or repaired, or None when the catalog is clean."""
        if not self.errors and not self.warnings:
            return None
        parts = []
        if self.errors:
            shown = "; ".join(str(e) for e in self.errors[:limit])
            more = f"; and {len(self.errors) - limit} more" if len(self.errors) > limit else ""
            parts.append(f"{len(self.errors)} skill(s) left out: {shown}{more}")
        if self.warnings:
            shown = "; ".join(self.warnings[:limit])
            more = f"; and {len(self.warnings) - limit} more" if len(self.warnings) > limit else ""
            parts.append(f"{len(self.warnings)} note(s): {shown}{more}")
        return ". ".join(parts) + " (`skillroute skills --verbose` lists them all)"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.skills]

    @property
    def exclusive(self) -> list[Skill]:
        return [s for s in self.skills if s.kind == "exclusive"]

    @property
    def additive(self) -> list[Skill]:
        return [s for s in self.skills if s.kind == "additive"]



# folders never searched for skills: version control, dependencies, caches, skillroute's own artifacts
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox",
                        ".mypy_cache", ".pytest_cache", "site-packages", ".skillroute"})
MAX_DEPTH = 12


def find_skill_files(root: str | Path) -> list[Path]:
    """Every SKILL.md under ``root`` at any depth, in path order, as Claude Code lays them out.

    Covers `skills/<name>/SKILL.md`, plugins (`plugins/<plugin>/skills/<name>/SKILL.md`), marketplaces and
    catalogs nested further. A skill's own folder is not searched further (its subfolders are resources);
    symbolic links are followed, each real folder once, so a link loop ends.
    """
    root = Path(root).expanduser()
    if (root / "SKILL.md").is_file():
        return [root / "SKILL.md"]
    found: list[Path] = []
    seen: set[str] = set()

    def walk(folder: str, depth: int) -> None:  # strings, not Paths: 10,000 skills list 3x faster
        try:
            real = os.path.realpath(folder)
            if real in seen or depth > MAX_DEPTH:
                return
            seen.add(real)
            with os.scandir(folder) as it:  # entry types come with the listing: no stat per child
                children = sorted(e.name for e in it if e.name not in _SKIP_DIRS and e.is_dir())
        except OSError:
            return
        for name in children:
            skill_md = os.path.join(folder, name, "SKILL.md")
            if os.path.isfile(skill_md):
                found.append(Path(skill_md))
            else:
                walk(os.path.join(folder, name), depth + 1)

    walk(str(root), 0)
    return found


DEFAULT_DIRS = ("skills", "~/.claude/skills", ".claude/skills")


def default_skill_dirs(cwd: str | Path | None = None) -> list[Path]:
    """``$SKILLROUTE_SKILLS`` (os.pathsep-separated), else those that exist of `./skills` (skillroute's own
    layout), `~/.claude/skills` (personal) and `./.claude/skills` (project), in that order of precedence
    (Claude Code's: personal skills win over project skills)."""
    env = os.environ.get("SKILLROUTE_SKILLS")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    base = Path(cwd) if cwd is not None else Path.cwd()
    dirs = [Path(d).expanduser() if d.startswith("~") else base / d for d in DEFAULT_DIRS]
    found = [d for d in dirs if d.is_dir()]
    if not found:
        raise CatalogError(f"no skill directory found: pass --skills DIR or set $SKILLROUTE_SKILLS (tried "
                           f"{', '.join(str(d) for d in dirs)})")
    return found


def load_catalog(*dirs: str | Path | Iterable[str | Path], strict: bool = False) -> Catalog:
    """Load every SKILL.md under one or more directories (any depth), the first directory winning a name.

    By default a bad skill is left out and reported in ``Catalog.errors``, and what a host would still load
    is repaired and reported in ``Catalog.warnings`` (see ``read_skill_file``): one bad file never stops a
    catalog. ``strict=True`` raises on the first problem instead (for CI and ``skillroute lint --strict``).
    """
    flat: list[Path] = []
    for d in dirs:
        if isinstance(d, (str, Path)):
            flat.append(Path(d).expanduser())
        else:
            flat.extend(Path(x).expanduser() for x in d)
    if not flat:
        raise CatalogError("no skill directory given")
    groups: list[list[Path]] = []
    for d in flat:
        if not d.is_dir():
            raise CatalogError("skill directory does not exist" if not d.exists() else "not a directory", d)
        groups.append(find_skill_files(d))
    key = catalog_key(groups, strict) if sum(map(len, groups)) >= MIN_SKILLS else None
    cached = read_cached(key) if key else None
    if cached is not None:
        return cached
    skills: dict[str, Skill] = {}
    errors: list[CatalogError] = []
    notes: list[str] = []
    for group in groups:
        for file in group:
            try:
                skill = read_skill_file(file, strict=strict)
            except CatalogError as exc:
                if strict:
                    raise
                errors.append(exc)
                continue
            notes.extend(skill.notes)
            if skill.name in skills:
                notes.append(f"skill '{skill.name}' is defined twice: {skills[skill.name].path} is used, "
                             f"{skill.path} is ignored")
                continue
            skills[skill.name] = skill
    if not skills and not errors:
        raise CatalogError("no skills found (no SKILL.md under it, at any depth)", flat[0])
    if not skills:
        if len(errors) == 1:
            raise errors[0]
        raise CatalogError(f"no loadable skill: {len(errors)} SKILL.md files, all bad; the first: {errors[0]}",
                           flat[0])
    catalog = Catalog(tuple(skills.values()), tuple(errors), tuple(notes))
    if key:
        write_cached(key, catalog)
    return catalog
