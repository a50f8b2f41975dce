"""``skillroute agree``: how often the router picks the skill the host's LLM picked, on a harvested history.

A Claude Code transcript records the skill the agent invoked for a prompt (``label_source: "host"`` in
``skillroute harvest``'s output). Routing those prompts and comparing is the honest offline proxy of "does it
route like my agent does": no labelling, the user's own words, the host's own choices.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core._dataset import read_jsonl
from ..errors import DataError

__all__ = ["Agreement", "agreement", "read_host_labels"]


@dataclass
class Agreement:
    """Router vs host on the prompts where the host invoked a skill of this catalog."""

    n: int  # prompts compared
    agreed: int
    threshold: float
    n_confident: int  # decisions at or above the threshold (what the hook would say)
    agreed_confident: int
    per_skill: dict[str, dict[str, Any]]  # host skill -> n, agreed, rate
    confusions: list[tuple[str, str, int]]  # (host skill, router's pick, count), most common first
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    not_in_catalog: dict[str, int] = field(default_factory=dict)  # host skills this catalog lacks

    @property
    def rate(self) -> float:
        return self.agreed / self.n if self.n else float("nan")

    @property
    def rate_confident(self) -> float:
        return self.agreed_confident / self.n_confident if self.n_confident else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate, "rate_confident": self.rate_confident}


def read_host_labels(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a harvested JSONL file whose label the host made (the skill the agent invoked)."""
    rows = []
    for n, row in read_jsonl(path, "the harvested history"):
        if row.get("label_source") != "host":
            continue
        if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise DataError("missing or empty", path, n, "prompt")
        if not isinstance(row.get("skill"), str) or not row["skill"]:
            raise DataError("a host label needs the skill's name", path, n, "skill")
        rows.append({**row, "line": n})
    return rows


def agreement(router, rows: Sequence[dict[str, Any]], threshold: float = 0.7, batch: int = 64) -> Agreement:
    """Route each row's prompt and compare with the skill the host invoked (an additive skill agrees when it
    switches on beside the decision)."""
    catalog = router.catalog
    known = [r for r in rows if r["skill"] in catalog]
    missing = Counter(r["skill"] for r in rows if r["skill"] not in catalog)
    decisions = []
    for i in range(0, len(known), batch):
        decisions += router.route_many([r["prompt"] for r in known[i:i + batch]])
    per: dict[str, Counter] = {}
    confusions: Counter = Counter()
    disagreements = []
    agreed = n_conf = agreed_conf = 0
    for row, d in zip(known, decisions, strict=True):
        host = row["skill"]
        ok = d.skill == host or (catalog[host].kind == "additive" and host in d.also)
        per.setdefault(host, Counter())["n"] += 1
        per[host]["agreed"] += ok
        agreed += ok
        if d.confidence >= threshold and d.skill is not None:
            n_conf += 1
            agreed_conf += ok
        if not ok:
            confusions[(host, d.skill or "none")] += 1
            disagreements.append({"line": row["line"], "prompt": row["prompt"], "host": host,
                                  "router": d.skill, "confidence": d.confidence})
    return Agreement(
        n=len(known), agreed=agreed, threshold=threshold, n_confident=n_conf, agreed_confident=agreed_conf,
        per_skill={s: {"n": c["n"], "agreed": c["agreed"], "rate": c["agreed"] / c["n"]} for s, c in sorted(per.items())},
        confusions=[(h, p, c) for (h, p), c in confusions.most_common()], disagreements=disagreements,
        not_in_catalog=dict(missing.most_common()))
