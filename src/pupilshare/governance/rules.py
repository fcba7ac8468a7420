"""The submission checks: what a gateway, a level or a recipient cannot give.

A submission is refused at once with *every* reason, so an applicant fixes it in one
go. Each rule is a small function of the terms, the gateway and the recipient that
yields reasons; ``check`` runs them all. Item facts (identifying, dataset) come from
the catalogue only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from pupilshare import catalogue
from pupilshare.plan import DUTY_SCOPES, OPT_OUT_TYPES, PUBLICATION, Sdc
from pupilshare.schoolyear import KEY_STAGE_YEARS, expected_age

Terms = dict[str, Any]
Facts = dict[str, Any]
Rule = Callable[[Terms, Facts, Facts], Iterator[str]]


def year_group_ages(code: str) -> tuple[int, int]:
    """Youngest and oldest age of a year group during its academic year: its age on
    31 August (``schoolyear.expected_age``), turning one year older during it."""
    age = expected_age(code.upper())
    return age, age + 1


def population_ages(pop: dict[str, Any]) -> tuple[int | None, int | None]:
    """The age range a population can include: its stated ages narrowed by its
    year groups and by its key stages' year groups, whichever is tighter; None where
    unbounded."""
    lo, hi = pop.get("min_age"), pop.get("max_age")
    stages = [
        y for k in pop.get("key_stages") or [] for y in KEY_STAGE_YEARS.get(k, ())
    ]
    for codes in (pop.get("year_groups") or [], stages):
        groups = [
            year_group_ages(y)
            for y in codes
            if str(y).upper() == "R" or str(y).isdigit()
        ]
        if groups:
            g_lo, g_hi = min(a for a, _ in groups), max(b for _, b in groups)
            lo = g_lo if lo is None else max(lo, g_lo)
            hi = g_hi if hi is None else min(hi, g_hi)
    return lo, hi


def _known_items(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    for ref in terms["items"]:
        try:
            catalogue.item(ref)
        except KeyError as e:
            yield f"item {ref}: {e.args[0]}"


def _justified(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    for ds, why in terms["datasets"].items():
        if not why:
            yield f"dataset {ds}: no justification given"
    for ref, why in terms["items"].items():
        if not why:
            yield f"item {ref}: no justification given"
    if not terms["items"]:
        yield "no data items requested"
    used = {r.split(".")[0] for r in terms["items"]}
    for ds in sorted(used - set(terms["datasets"])):
        yield f"items of {ds} requested but the dataset is not justified"


def _identifying(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    """Only an identified share carries identifiers: a pseudonymised one links by a
    per-agreement pseudonym, never the UPN or a name."""
    if terms["level"] == "identified":
        return
    for ref in terms["items"]:
        try:
            ident = catalogue.item(ref).identifying
        except KeyError:
            continue
        if ident:
            yield (
                f"item {ref} identifies a pupil and cannot be shared at level "
                f"{terms['level']}"
            )


def _gateway_level(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    if terms["level"] not in gw["levels"]:
        yield (
            f"gateway {gw['gateway_id']} does not allow level {terms['level']} "
            f"(allows {', '.join(gw['levels'])})"
        )


def _gateway_datasets(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    asked = set(terms["datasets"]) | {r.split(".")[0] for r in terms["items"]}
    for ds in sorted(asked - set(gw["datasets"])):
        yield f"gateway {gw['gateway_id']} does not cover dataset {ds}"


def _gateway_ages(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    lo, hi = population_ages(terms["population"])
    if gw.get("min_age") is not None and (lo is None or lo < gw["min_age"]):
        yield (
            f"population includes pupils younger than {gw['min_age']}, the "
            f"youngest gateway {gw['gateway_id']} allows"
        )
    if gw.get("max_age") is not None and (hi is None or hi > gw["max_age"]):
        yield (
            f"population includes pupils older than {gw['max_age']}, the oldest "
            f"gateway {gw['gateway_id']} allows"
        )


def _recipient_ages(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    """A recipient with a statutory age floor (the learning records service serves
    learners aged 14 and over) never receives younger pupils, whatever the gateway."""
    floor = org.get("min_pupil_age")
    lo, _ = population_ages(terms["population"])
    if floor is not None and (lo is None or lo < floor):
        yield (
            f"{org['name']} may receive only pupils aged {floor} and over; the "
            f"population includes younger pupils"
        )


def _recipient_standing(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    if org.get("status") != "active":
        yield (
            f"recipient {org['org_id']} is {org.get('status')}: its identity must "
            "be re-approved first"
        )


def _tables(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    if terms["level"] == "aggregate" and not terms["tables"]:
        yield "an aggregate share must specify its tables"
    if terms["level"] != "aggregate" and terms["tables"]:
        yield "tables are specified only for an aggregate share"
    names = [t["name"] for t in terms["tables"]]
    if len(set(names)) < len(names):
        yield "each table needs a name of its own"
    for t in terms["tables"]:
        if not t["name"]:
            yield f"a table of {t['dataset'] or 'no dataset'} needs a name"
        if "justification" in t and not t["justification"]:
            yield f"table {t['name']}: no justification given"
        if not t["rows"]:
            yield f"table {t['name']}: give at least one item to group its rows by"
        if t["measure"]:
            try:
                kind = catalogue.dataset(t["dataset"]).item(t["measure"]).type
            except KeyError:
                kind = None  # an unknown item: flagged as not requested below
            if kind is not None and kind not in ("integer", "decimal"):
                yield (
                    f"table {t['name']}: {t['dataset']}.{t['measure']} is not a "
                    "number, so it cannot be summed"
                )
        measure = [t["measure"]] if t["measure"] else []
        for name in (*t["rows"], *t["columns"], *measure, *t.get("filters", {})):
            ref = f"{t['dataset']}.{name}"
            if ref not in terms["items"]:
                yield f"table {t['name']}: {ref} is not one of the requested items"


def _dates(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    start, expiry, destroy = (
        date.fromisoformat(terms[k]) for k in ("start", "expiry", "destroy_by")
    )
    if expiry <= start:
        yield "expiry must be after the start"
    if destroy < expiry:
        yield "data must be destroyed on or after expiry, not before the share ends"


def _named_users(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    if not terms["users"]:
        yield "access belongs to named users: name at least one user of the recipient"
    members = set(org.get("users") or [])
    for u in terms["users"]:
        if u not in members:
            yield f"user {u} is not a named user of {org['org_id']}"


# Recipients whose purpose is always their own candidates or applicants: what the
# recipient is decides it, never how the terms are worded.
PER_CANDIDATE = ("awarding organisation", "school/post-16 institution")
# Items that place a learner at an organisation (``records_at``): a school or
# college by its establishment number, an awarding body by its name.
PLACED_BY = {("census", "laestab"), ("qualifications", "awarding_body")}


def _lookup_scope(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    """A per-candidate lookup (an awarding body's candidates, a college's applicants)
    never receives a national file: its population names where its candidates have a
    record (``records_at``), until a learner lookup service answers one at a time.

    Per-candidate is what the recipient is (``PER_CANDIDATE``) as well as a lookup
    access route, at every record level; ``records_at`` must place the learner at
    an organisation (``PLACED_BY``), an awarding body's at itself."""
    at = terms["population"].get("records_at")
    per_candidate = org.get("type") in PER_CANDIDATE
    lookup = "lookup" in terms.get("access_route", "")
    if (
        (lookup and terms["level"] == "identified")
        or (per_candidate and terms["level"] != "aggregate")
    ) and not at:
        yield (
            "a per-candidate lookup receives only learners with a record at the "
            "organisation: give population.records_at (dataset, item, value)"
        )
    if not at:
        return
    try:
        catalogue.dataset(at["dataset"]).item(at["item"])
    except KeyError as e:
        yield f"population.records_at: {e.args[0]}"
        return
    if (lookup or per_candidate) and (at["dataset"], at["item"]) not in PLACED_BY:
        yield (
            f"population.records_at: {at['dataset']}.{at['item']} names no "
            "organisation a learner has a record at (one of "
            + ", ".join(sorted(f"{d}.{i}" for d, i in PLACED_BY))
            + ")"
        )
    elif at["item"] == "awarding_body" and at["value"] != org.get("name"):
        yield (
            f"population.records_at: an awarding body's candidates are those with "
            f"an award from {org.get('name')}, not from {at['value']}"
        )


# Which way each disclosure-control term protects more: +1 a larger value, -1 a
# smaller one (the dominance share). The others (rounding, method, the suppression
# limit) choose how protection is given, not how much.
STRICTER = {
    "threshold": 1,
    "dominance_n": 1,
    "dominance_k": -1,
    "p_ratio": 1,
    "k_anonymity": 1,
    "min_interval": 1,
    "ptable_max": 1,
    "ptable_variance": 1,
}


def _protection_standard(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    """An agreement's ``sdc`` terms may make the department's standard (the
    defaults of ``plan.Sdc``: ACRO's and the ONS's figures) stricter, never looser,
    as its budget may lower the service's limits, never raise them: "anonymised"
    with k = 1, or a threshold of 3, is less protection than the label promises."""
    standard = Sdc()
    for name, way in STRICTER.items():
        asked = (terms.get("sdc") or {}).get(name)
        floor = getattr(standard, name)
        if asked is not None and (asked - floor) * way < 0:
            bound = "at least" if way > 0 else "at most"
            yield (
                f"sdc.{name} {asked} is looser than the department's standard: "
                f"{bound} {floor}"
            )


def _publication(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    """Publication gives the release to everyone: only aggregate tables, under
    disclosure control, are ever published; never a file of records."""
    if terms.get("access_route") == PUBLICATION and terms["level"] != "aggregate":
        yield (
            f"access route {PUBLICATION} gives the release to everyone: only an "
            f"aggregate share is published, not a {terms['level']} one"
        )


def _opt_out_scope(terms: Terms, gw: Facts, org: Facts) -> Iterator[str]:
    """The opt-outs a share honours are named by its scope: a purpose people may
    refuse, or a use under a legal duty (opt-outs of everything only). Any other
    word would honour opt-outs of everything only, silently: refused."""
    scope = terms.get("opt_out_scope")
    if scope not in (*OPT_OUT_TYPES, *DUTY_SCOPES):
        yield (
            f"opt_out_scope {scope!r} is neither a purpose people may opt out of "
            f"({', '.join(OPT_OUT_TYPES)}) nor a use under a legal duty "
            f"({', '.join(DUTY_SCOPES)})"
        )


RULES: tuple[Rule, ...] = (
    _known_items,
    _justified,
    _identifying,
    _gateway_level,
    _gateway_datasets,
    _gateway_ages,
    _recipient_ages,
    _recipient_standing,
    _tables,
    _dates,
    _named_users,
    _lookup_scope,
    _protection_standard,
    _publication,
    _opt_out_scope,
)


def check(terms: Terms, gateway: Facts, org: Facts) -> list[str]:
    """Every reason the terms cannot be submitted (empty when they can)."""
    return [reason for rule in RULES for reason in rule(terms, gateway, org)]
