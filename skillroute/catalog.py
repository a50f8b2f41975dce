"""Load a skill catalog: `DIR/<name>/SKILL.md` files with YAML frontmatter (Agent Skills format)."""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import CatalogError
from .rules import ParsedDescription, parse_description

__all__ = ["Skill", "Catalog", "load_catalog", "read_skill_file", "KIND_KEY"]

# libyaml's safe loader where PyYAML was built with it (10x faster on a large catalog), else the Python one
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

KIND_KEY = "skillroute-kind"  # inside `metadata`, so the file stays valid for the hosts that read it
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_FILE_BYTES = 1_000_000
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


def read_skill_file(path: str | Path) -> Skill:
    """Read and validate one SKILL.md; raise CatalogError naming the file and line on bad input."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read file: {exc.strerror or exc}", path) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise CatalogError(f"file is {len(raw):,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a SKILL.md", path)
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
    if not isinstance(data, dict):
        raise CatalogError("frontmatter must be a mapping of keys to values", path, 2)

    name = data.get("name")
    if name is None:
        raise CatalogError("frontmatter has no 'name'", path, 2)
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > MAX_NAME:
        raise CatalogError(
            f"name {name!r} breaks the Agent Skills rules: lowercase letters, digits and single hyphens, "
            f"at most {MAX_NAME} characters", path, _key_line(front, "name"))
    if path.parent.name != name:
        raise CatalogError(f"name {name!r} differs from its folder's name {path.parent.name!r}; rename one",
                           path, _key_line(front, "name"))
    desc = data.get("description")
    if not isinstance(desc, str) or not desc.strip():
        raise CatalogError("frontmatter needs a non-empty string 'description'", path,
                           _key_line(front, "description") or 2)
    if len(desc) > MAX_DESCRIPTION:
        raise CatalogError(f"description is {len(desc)} characters, over the {MAX_DESCRIPTION} allowed",
                           path, _key_line(front, "description"))
    meta = data.get("metadata", {}) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise CatalogError("'metadata' must map strings to strings", path, _key_line(front, "metadata"))
    kind = meta.get(KIND_KEY, "exclusive")
    if kind not in ("exclusive", "additive"):
        raise CatalogError(f"metadata.{KIND_KEY} must be 'exclusive' or 'additive', not {kind!r}", path,
                           _key_line(front, "metadata"))
    disabled = data.get("disable-model-invocation", False)
    if not isinstance(disabled, bool):
        raise CatalogError("'disable-model-invocation' must be true or false", path,
                           _key_line(front, "disable-model-invocation"))
    return Skill(name=name, description=desc.strip(), path=path, kind=kind, disabled=disabled,
                 frontmatter=data, body=body)


@dataclass(frozen=True)
class Catalog:
    """An ordered set of skills, with the problems met while loading it."""

    skills: tuple[Skill, ...]
    errors: tuple[CatalogError, ...] = ()  # bad skills skipped in lenient mode
    warnings: tuple[str, ...] = ()  # shadowed duplicates, redirects to unknown skills

    def __post_init__(self) -> None:
        names = frozenset(s.name for s in self.skills)
        parsed = tuple(
            dataclasses.replace(s, parsed=parse_description(s.description, names)) for s in self.skills
        )
        object.__setattr__(self, "skills", parsed)
        object.__setattr__(self, "_by_name", {s.name: s for s in parsed})
        notes = list(self.warnings)
        for s in parsed:
            for rule in s.rules:
                if rule.redirect and rule.redirect not in names:
                    notes.append(f"{s.path}: rule '{rule.text}' redirects to '{rule.redirect}', "
                                 "which is not in the catalog; the redirect is ignored")
        object.__setattr__(self, "warnings", tuple(dict.fromkeys(notes)))

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

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.skills]

    @property
    def exclusive(self) -> list[Skill]:
        return [s for s in self.skills if s.kind == "exclusive"]

    @property
    def additive(self) -> list[Skill]:
        return [s for s in self.skills if s.kind == "additive"]



def load_catalog(*dirs: str | Path | Iterable[str | Path], lenient: bool = False) -> Catalog:
    """Load every `<dir>/<name>/SKILL.md` of one or more directories, the first directory winning a name.

    With ``lenient=True`` a bad skill is skipped and reported in ``Catalog.errors`` instead of raised.
    """
    flat: list[Path] = []
    for d in dirs:
        if isinstance(d, (str, Path)):
            flat.append(Path(d).expanduser())
        else:
            flat.extend(Path(x).expanduser() for x in d)
    if not flat:
        raise CatalogError("no skill directory given")
    skills: dict[str, Skill] = {}
    errors: list[CatalogError] = []
    notes: list[str] = []
    for d in flat:
        if not d.is_dir():
            raise CatalogError("skill directory does not exist" if not d.exists() else "not a directory", d)
        for sub in sorted(p for p in d.iterdir() if p.is_dir()):
            file = sub / "SKILL.md"
            if not file.is_file():
                continue
            try:
                skill = read_skill_file(file)
            except CatalogError as exc:
                if not lenient:
                    raise
                errors.append(exc)
                continue
            if skill.name in skills:
                msg = (f"skill '{skill.name}' is defined twice: {skills[skill.name].path} is used, "
                       f"{skill.path} is ignored")
                warnings.warn(msg, stacklevel=2)
                notes.append(msg)
                continue
            skills[skill.name] = skill
    if not skills and not errors:
        raise CatalogError("no skills found (expected <dir>/<name>/SKILL.md)", flat[0])
    return Catalog(tuple(skills.values()), tuple(errors), tuple(notes))
