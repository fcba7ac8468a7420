"""The release plan: what one release of one agreement may contain, resolved and frozen.

Governance turns an approved agreement into a plan (``governance.plan_for``); the
release engine builds from the plan alone and the output checker checks against it.
A plan serialises to JSON, so the ledger records exactly what was planned and two plans
can be compared or hashed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Literal

from pupilshare import catalogue

Level = Literal["identified", "pseudonymised", "anonymised", "aggregate"]
LEVELS: tuple[Level, ...] = ("identified", "pseudonymised", "anonymised", "aggregate")


@dataclass(frozen=True)
class Population:
    """Which pupils an agreement covers; None means no limit on that dimension.

    Ages are whole years on ``reference_date`` of the plan; academic years are named by
    their first calendar year (2024 is 2024/25).
    """

    min_age: int | None = None
    max_age: int | None = None
    year_groups: tuple[str, ...] = ()
    la_codes: tuple[str, ...] = ()
    academic_years: tuple[int, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """One aggregate table: counts (or a sum of ``measure``) of ``dataset`` rows,
    grouped by ``rows`` and ``columns`` items, with margins."""

    name: str
    dataset: str
    rows: tuple[str, ...]
    columns: tuple[str, ...] = ()
    measure: str | None = None  # None: count of pupils; else the item summed


@dataclass(frozen=True)
class Sdc:
    """Disclosure control parameters (defaults from the domain notes)."""

    threshold: int = 10
    dominance_n: int = 2
    dominance_k: float = 0.9
    rounding: int | None = None
    k_anonymity: int = 10


@dataclass(frozen=True)
class ReleasePlan:
    agreement_id: str
    recipient: str
    gateway: str
    purpose: str
    level: Level
    items: tuple[str, ...]
    population: Population = field(default_factory=Population)
    tables: tuple[TableSpec, ...] = ()
    sdc: Sdc = field(default_factory=Sdc)
    opt_out_scope: str = "research"
    reference_date: date = field(default_factory=date.today)
    policy_version: str = ""

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown release level {self.level!r}")
        for ref in self.items:
            catalogue.item(ref)  # raises for an item the catalogue does not know
        for t in self.tables:
            for name in (*t.rows, *t.columns, *([t.measure] if t.measure else [])):
                catalogue.dataset(t.dataset).item(name)
        if self.level in ("anonymised", "aggregate"):
            bad = [r for r in self.items if catalogue.item(r).identifying]
            if bad:
                raise ValueError(f"{self.level} release cannot hold {', '.join(bad)}")

    def datasets(self) -> list[str]:
        return sorted({r.split(".")[0] for r in self.items})

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, sort_keys=True)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()
