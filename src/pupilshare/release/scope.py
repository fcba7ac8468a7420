"""An agreement's population, judged at each record's own date.

Every condition of ``Population`` applies to every dataset of a release, and is
judged on the date the record describes (the census day, the assessment date, the
measurement date, the award date: ``Dataset.event_date``), never on the day of the
release: a Year 6 agreement gets a pupil's key stage results from the year the pupil
was in Year 6 and no others; an agreement for learners aged 14 and over gets census
rows from the terms they were 14 and over. A record's own year-group column is used
where it has one; otherwise the year group follows from the date of birth with the
``schoolyear`` rules; a key stage is a result's own key stage, or for any other
record the key stage's year groups at its date. A dataset that a condition cannot be
applied to (no date, no school) makes the release refuse, naming it: nothing passes
unfiltered.
"""

from __future__ import annotations

from pupilshare import catalogue
from pupilshare.errors import Conflict
from pupilshare.plan import Population
from pupilshare.release.derive import lit
from pupilshare.schoolyear import (
    KEY_STAGE_YEARS,
    academic_year_sql,
    age_on_sql,
    year_group_sql,
)

PUPIL_KEY = "__pupil_key"
PUPILS_ALIAS = "p"  # the pupil index row, joined when a condition needs a birth date


def unscopable(pop: Population, dataset: str) -> list[str]:
    """Why ``pop`` cannot be applied to ``dataset`` (empty: it can)."""
    ds = catalogue.dataset(dataset)
    why = []
    dated = pop.min_age is not None or pop.max_age is not None or pop.academic_years
    by_group = (pop.year_groups and not ds.year_group) or (
        pop.key_stages and not ds.year_group and "key_stage" not in ds
    )
    if (dated or by_group) and not ds.event_date:
        why.append("it has no date to judge age, year group or academic year at")
    if pop.la_codes and "laestab" not in ds:
        why.append("it names no school to place a record in a local authority")
    return [f"dataset {dataset} cannot be scoped: {w}" for w in why]


def needs_pupils(pop: Population, dataset: str) -> bool:
    """Whether the conditions need the pupil index (for the date of birth)."""
    ds = catalogue.dataset(dataset)
    by_group = not ds.year_group and (
        pop.year_groups or (pop.key_stages and "key_stage" not in ds)
    )
    return pop.min_age is not None or pop.max_age is not None or bool(by_group)


def conditions(pop: Population, dataset: str, row: str = "s") -> list[str]:
    """SQL conditions on a record ``row`` (joined to the index as ``p`` when
    ``needs_pupils``); raises ``Conflict`` naming a dataset that cannot be scoped."""
    why = unscopable(pop, dataset)
    if why:
        raise Conflict(
            "the release refuses: a population condition cannot be "
            f"applied to {dataset}",
            why,
        )
    ds = catalogue.dataset(dataset)
    where: list[str] = []
    on = f"{row}.{ds.event_date}" if ds.event_date else ""
    dob = (
        f"coalesce({PUPILS_ALIAS}.date_of_birth, {row}.date_of_birth)"
        if "date_of_birth" in ds
        else f"{PUPILS_ALIAS}.date_of_birth"
    )
    if pop.min_age is not None:
        where.append(f"{age_on_sql(dob, on)} >= {int(pop.min_age)}")
    if pop.max_age is not None:
        where.append(f"{age_on_sql(dob, on)} <= {int(pop.max_age)}")
    group = f"{row}.{ds.year_group}" if ds.year_group else year_group_sql(dob, on)
    if pop.year_groups:
        where.append(f"{group} IN ({_list(pop.year_groups)})")
    if pop.key_stages:
        if "key_stage" in ds:  # a result names its key stage
            where.append(f"{row}.key_stage IN ({_list(pop.key_stages)})")
        else:  # any other record: the pupil's year group then is in the key stage
            years = tuple(y for k in pop.key_stages for y in KEY_STAGE_YEARS[k])
            where.append(f"{group} IN ({_list(years)})")
    if pop.la_codes:
        where.append(f"substr({row}.laestab, 1, 3) IN ({_list(pop.la_codes)})")
    if pop.academic_years:
        collected = "academic_year" in ds and not ds.item("academic_year").derived
        year = f"{row}.academic_year" if collected else academic_year_sql(on)
        years = ", ".join(str(int(y)) for y in pop.academic_years)
        where.append(f"{year} IN ({years})")
    if pop.records_at:
        where.append(f"{row}.{PUPIL_KEY} IN ({candidates_sql(pop)})")
    return where


def candidates_sql(pop: Population) -> str:
    """The pupils with a record at the recipient organisation (a per-candidate
    lookup agreement receives only these, never a national file)."""
    dataset, item, value = pop.records_at
    ds = catalogue.dataset(dataset)
    ds.item(item)  # raises for an item the catalogue does not know
    return (
        f"SELECT l.pupil_key FROM {ds.table} d JOIN pupil_links l "
        f"ON l.dataset = {lit(ds.name)} AND l.collection_id = d.collection_id "
        f"AND l.line = d.line WHERE d.{item} = {lit(value)}"
    )


def _list(values: tuple) -> str:
    return ", ".join(lit(v) for v in values)
