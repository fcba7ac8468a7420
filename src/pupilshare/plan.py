"""The agreed plan: what one release of one agreement may contain, resolved and frozen.

A neutral contract beside the catalogue: governance produces it together with its
decision (``governance.approved_release``), release builds from it alone and the
output checker checks against it; neither area imports the other's internals. A plan
serialises to JSON, so the ledger records exactly what was planned and two plans can
be compared or hashed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Literal

from pupilshare import catalogue
from pupilshare.budget import Budget

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
    # Key stages ("1".."4"): a result of that key stage, or a record from a year
    # group of it (``schoolyear.KEY_STAGE_YEARS``) at the record's date.
    key_stages: tuple[str, ...] = ()
    # (dataset, item, value): only pupils with such a record, the recipient's own
    # candidates (a per-candidate lookup never receives a national file).
    records_at: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """One aggregate table: counts (or a sum of ``measure``) of ``dataset`` rows,
    grouped by ``rows`` and ``columns`` items, with margins."""

    name: str
    dataset: str
    rows: tuple[str, ...]
    columns: tuple[str, ...] = ()
    measure: str | None = None  # None: count of pupils; else the item summed
    # Only rows whose item has one of the values, e.g. (("key_stage", ("2",)),).
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Sdc:
    """Disclosure control parameters, set per agreement.

    The defaults are those of ACRO's shipped configuration (``acro/default.yaml``:
    ``safe_threshold`` 10, ``safe_nk_n`` 2, ``safe_nk_k`` 0.90, ``safe_pratio_p``
    0.10), which are also the ONS's usual figures: a threshold of 10 contributors,
    the (2, 90%) dominance rule and the p% rule with p = 10%.
    """

    threshold: int = 10
    dominance_n: int = 2
    dominance_k: float = 0.9
    # p% rule on sums: a cell is sensitive when the total minus its two largest
    # contributions is less than ``p_ratio`` times the largest (0.10 is p = 10%).
    p_ratio: float = 0.10
    rounding: int | None = None
    k_anonymity: int = 10
    # Largest share of records k-anonymisation may drop (ARX's suppression limit).
    max_suppression: float = 0.05
    # Aggregate tables: "suppression" (cells withheld as c) or "cell_key" (the
    # ONS's cell key perturbation of counts; see release/cellkey.py).
    method: str = "suppression"
    # Suppression: the least width of a suppressed count's feasible interval (the
    # p% rule's idea for counts; sums need p_ratio of their value either side).
    min_interval: int = 5
    # Cell key perturbation: the perturbation table's largest change and variance.
    ptable_max: int = 4
    ptable_variance: float = 2.0

    def __post_init__(self) -> None:
        """Refuse parameters no output checker would accept, with every reason."""
        bad = [
            f"{name} {why}"
            for name, ok, why in (
                ("threshold", self.threshold >= 1, "must be 1 or more"),
                ("dominance_n", self.dominance_n >= 1, "must be 1 or more"),
                ("dominance_k", 0 < self.dominance_k <= 1, "must be in (0, 1]"),
                ("p_ratio", 0 <= self.p_ratio < 1, "must be in [0, 1)"),
                (
                    "rounding",
                    not self.rounding or self.rounding >= 1,
                    "must be a base of 1 or more (or none)",
                ),
                ("k_anonymity", self.k_anonymity >= 1, "must be 1 or more"),
                ("max_suppression", 0 <= self.max_suppression < 1, "must be in [0, 1)"),
                (
                    "method",
                    self.method in ("suppression", "cell_key"),
                    "must be suppression or cell_key",
                ),
                ("min_interval", self.min_interval >= 1, "must be 1 or more"),
                ("ptable_max", 1 <= self.ptable_max <= 20, "must be 1 to 20"),
                (
                    "ptable_variance",
                    0 < self.ptable_variance <= self.ptable_max**2 / 2,
                    "must be in (0, ptable_max**2 / 2]",
                ),
            )
            if not ok
        ]
        if bad:
            raise ValueError("disclosure control: " + "; ".join(bad))


# The purposes a person may refuse (an opt-out's type; an agreement's
# ``opt_out_scope``), and the uses under a legal duty that are no opt-out's scope
# (only an opt-out of everything applies to them). Nothing else is a scope: a word
# outside both would silently honour only opt-outs of everything.
OPT_OUT_TYPES = {
    "learning_records": "sharing personal learning record achievements with "
    "approved organisations",
    "survey": "being contacted for voluntary surveys",
    "research": "use of my records in approved research",
}
DUTY_SCOPES = ("assessment", "health", "inspection", "local_authority", "statistics")

# The access route of an agreement whose releases are published to everyone (the
# department's own statistics): the register lists it, the public pages show only
# its releases.
PUBLICATION = "publication"


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
    budget: Budget = field(default_factory=Budget)  # the agreement's own limits
    access_route: str = ""  # how the recipient receives it (``PUBLICATION``: all)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown release level {self.level!r}")
        for ref in self.items:
            catalogue.item(ref)  # raises for an item the catalogue does not know
        for t in self.tables:
            named = (
                *t.rows,
                *t.columns,
                *([t.measure] if t.measure else []),
                *(f[0] for f in t.filters),
            )
            for name in named:
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


def plan_from_dict(data: dict) -> ReleasePlan:
    """The inverse of ``asdict``/``to_json``: rebuild a plan from its JSON form."""
    tables = tuple(
        TableSpec(
            name=t["name"],
            dataset=t["dataset"],
            rows=tuple(t["rows"]),
            columns=tuple(t.get("columns", ())),
            measure=t.get("measure"),
            filters=tuple((f[0], tuple(f[1])) for f in t.get("filters", ())),
        )
        for t in data.get("tables", ())
    )
    pop = data.get("population") or {}
    ref = data.get("reference_date")
    return ReleasePlan(
        agreement_id=data["agreement_id"],
        recipient=data.get("recipient", ""),
        gateway=data.get("gateway", ""),
        purpose=data.get("purpose", ""),
        level=data["level"],
        items=tuple(data.get("items", ())),
        population=Population(
            min_age=pop.get("min_age"),
            max_age=pop.get("max_age"),
            year_groups=tuple(pop.get("year_groups", ())),
            la_codes=tuple(pop.get("la_codes", ())),
            academic_years=tuple(pop.get("academic_years", ())),
            key_stages=tuple(pop.get("key_stages", ())),
            records_at=tuple(pop.get("records_at", ())),
        ),
        tables=tables,
        sdc=Sdc(**(data.get("sdc") or {})),
        opt_out_scope=data.get("opt_out_scope", "research"),
        reference_date=date.fromisoformat(ref) if ref else date.today(),
        policy_version=data.get("policy_version", ""),
        budget=Budget(**(data.get("budget") or {})),
        access_route=data.get("access_route", ""),
    )


def plan_from_json(text: str) -> ReleasePlan:
    return plan_from_dict(json.loads(text))
