"""The output check's re-verification of what an agreement promises, from the
delivered files and the records (called by ``check.check_release``).

It shares no code with the builder (``scope``, ``population``, ``anonymise``): the
scope is recomputed here with its own SQL, and k-anonymity with ``pycanon``.

- Scope at the record's date: every pupil in the release has a record in scope (the
  agreement's age, year group, local authority, academic years and, for a lookup,
  a record at the recipient), judged on that record's own date; no file holds more
  rows than its dataset has records in scope; every record a table is computed from
  is in scope (``outside_scope``); a dataset that cannot be scoped blocks.
- Anonymised: k-anonymity over every column of the file together (``pycanon``), and
  no measurement released exactly (a fractional number).
- Identified: an agreement that files records by UPN or ULN gets one in every file
  and on every row, and no two rows are the same.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pycanon import anonymity

from pupilshare import catalogue
from pupilshare.plan import ReleasePlan
from pupilshare.store import Store

PUPIL_KEY = "__pupil_key"  # the population's pupil column (never in a file)
IDENTIFIERS = ("upn", "uln", "pupil_upn", "pupil_uln")


def check(
    store: Store, plan: ReleasePlan, staging: Path, pupils: pa.Table
) -> list[str]:
    """Reasons to block the release for a broken promise (empty: none broken)."""
    files = {p.name[: -len(".parquet")]: p for p in staging.glob("*.parquet")}
    if plan.level == "aggregate":
        datasets = sorted({t.dataset for t in plan.tables})
    else:
        datasets = [d for d in files if d in catalogue.DATASETS]
    reasons: list[str] = []
    scoped: list[str] = []
    for ds in datasets:
        why = _unscopable(plan, ds)
        if why:
            reasons.append(f"{ds}: cannot be scoped ({why}); it may not be released")
        else:
            scoped.append(ds)
    for ds in scoped:  # each scope read once, for the counts and the pupils
        store.rows(
            f"CREATE OR REPLACE TEMP TABLE _promise_{ds} AS {in_scope_sql(plan, ds)}"
        )
    try:
        reasons += _pupils_in_scope(store, scoped, pupils)
        if plan.level != "aggregate":
            reasons += _rows_in_scope(store, scoped, files)
    finally:
        for ds in scoped:
            store.rows(f"DROP TABLE IF EXISTS _promise_{ds}")
    if plan.level == "aggregate":
        return reasons
    for ds, path in files.items():
        if plan.level == "anonymised":
            reasons += _anonymous(plan, ds, path)
        elif plan.level == "identified":
            reasons += _identified(store, plan, ds, path)
    return reasons


def _rows_in_scope(
    store: Store, scoped: list[str], files: dict[str, Path]
) -> list[str]:
    reasons = []
    for ds in scoped:
        n = pq.read_metadata(files[ds]).num_rows
        allowed = store.one(f"SELECT count(*) FROM _promise_{ds}") or 0
        if n > allowed:
            reasons.append(
                f"{ds}: {n} rows, but only {allowed} records are in the "
                "agreement's scope at their own dates"
            )
    return reasons


def _unscopable(plan: ReleasePlan, dataset: str) -> str:
    ds, pop = catalogue.dataset(dataset), plan.population
    dated = (
        pop.min_age is not None
        or pop.max_age is not None
        or pop.academic_years
        or (pop.year_groups and not ds.year_group)
        or (pop.key_stages and not ds.year_group and "key_stage" not in ds)
    )
    if dated and not ds.event_date:
        return "no record date"
    if pop.la_codes and "laestab" not in ds:
        return "no school"
    return ""


def outside_scope(
    store: Store, plan: ReleasePlan, dataset: str, view: str
) -> list[str]:
    """Records of ``view`` (the population a release's tables are computed from,
    and their true values recomputed from) that this check's own reading of the
    scope does not hold, record by record (its file and line, and its pupil).

    A table shows no row to compare with the records, and every pupil in it may
    be in scope at some date while records from other dates are counted: only
    the records themselves show that (issue 10 points 1 and 8)."""
    if _unscopable(plan, dataset):
        return []  # ``check`` names the dataset and blocks
    n = store.one(
        f"SELECT count(*) FROM {view} v ANTI JOIN "
        f"({in_scope_sql(plan, dataset, records=True)}) s "
        "ON s.collection_id = v.collection_id AND s.line = v.line "
        f"AND s.pupil_key = v.{PUPIL_KEY}"
    )
    if n:
        return [
            f"{dataset}: the tables count {n} record(s) outside the agreement's "
            "scope at their own dates"
        ]
    return []


def in_scope_sql(plan: ReleasePlan, dataset: str, records: bool = False) -> str:
    """Records of ``dataset`` in the agreement's scope at their own dates, less
    opt-outs, as (pupil_key), or with ``records`` as (pupil_key, collection_id,
    line): this check's own reading of the population."""
    ds, pop = catalogue.dataset(dataset), plan.population
    when = f"r.{ds.event_date}" if ds.event_date else "NULL"
    born = (
        "coalesce(p.date_of_birth, r.date_of_birth)"
        if "date_of_birth" in ds
        else "p.date_of_birth"
    )
    age = (
        f"(year({when}) - year({born}) - CASE WHEN month({when}) * 100 + "
        f"day({when}) < month({born}) * 100 + day({born}) THEN 1 ELSE 0 END)"
    )
    school_year = f"(year({when}) - CASE WHEN month({when}) >= 9 THEN 0 ELSE 1 END)"
    cohort = f"(year({born}) - CASE WHEN month({born}) >= 9 THEN 0 ELSE 1 END)"
    group = (
        f"r.{ds.year_group}"
        if ds.year_group
        else (
            f"CASE WHEN {school_year} - {cohort} - 5 = 0 THEN 'R' ELSE "
            f"CAST({school_year} - {cohort} - 5 AS VARCHAR) END"
        )
    )
    cond = []
    if pop.min_age is not None:
        cond.append(f"{age} >= {int(pop.min_age)}")
    if pop.max_age is not None:
        cond.append(f"{age} <= {int(pop.max_age)}")
    if pop.year_groups:
        cond.append(f"{group} IN ({_strings(pop.year_groups)})")
    if pop.key_stages and "key_stage" in ds:
        cond.append(f"r.key_stage IN ({_strings(pop.key_stages)})")
    elif pop.key_stages:
        stage = {"1": (1, 2), "2": (3, 6), "3": (7, 9), "4": (10, 11)}  # NC years
        ranges = " OR ".join(
            f"TRY_CAST({group} AS INTEGER) BETWEEN {lo} AND {hi}"
            for lo, hi in (stage[k] for k in pop.key_stages)
        )
        cond.append(f"({ranges})")
    if pop.la_codes:
        cond.append(f"left(r.laestab, 3) IN ({_strings(pop.la_codes)})")
    if pop.academic_years:
        own = "academic_year" in ds and not ds.item("academic_year").derived
        year = "r.academic_year" if own else school_year
        cond.append(f"{year} IN ({', '.join(str(int(y)) for y in pop.academic_years)})")
    if pop.records_at:
        at_ds, item, value = pop.records_at
        at = catalogue.dataset(at_ds)
        cond.append(
            f"l.pupil_key IN (SELECT k.pupil_key FROM {at.table} a JOIN pupil_links k "
            f"ON k.dataset = '{at.name}' AND k.collection_id = a.collection_id AND "
            f"k.line = a.line WHERE a.{catalogue.dataset(at_ds).item(item).name} = "
            f"{_strings((value,))})"
        )
    if ds.release_only_where:
        cond.append(
            f"r.{ds.release_only_where[0]} = {_strings((ds.release_only_where[1],))}"
        )
    opted = (
        f"SELECT pupil_key FROM opt_outs WHERE scope IN ('all', "
        f"{_strings((plan.opt_out_scope,))}) AND NOT EXISTS (SELECT 1 FROM "
        "optout_exemptions e WHERE e.withdrawn_at IS NULL AND e.agreement_id = "
        f"{_strings((plan.agreement_id,))})"
    )
    cond.append(f"l.pupil_key NOT IN ({opted})")
    which = "l.pupil_key, r.collection_id, r.line" if records else "l.pupil_key"
    return (
        f"SELECT {which} FROM {ds.table} r JOIN pupil_links l ON l.dataset = "
        f"'{ds.name}' AND l.collection_id = r.collection_id AND l.line = r.line "
        f"LEFT JOIN pupils p ON p.pupil_key = l.pupil_key WHERE {' AND '.join(cond)}"
    )


def _pupils_in_scope(store: Store, datasets: list[str], pupils: pa.Table) -> list[str]:
    if not datasets or not pupils.num_rows:
        return []
    union = " UNION ".join(f"SELECT pupil_key FROM _promise_{d}" for d in datasets)
    store.register("_promise_pupils", pupils)
    try:
        n = store.one(
            f"SELECT count(DISTINCT pupil_key) FROM _promise_pupils "
            f"WHERE pupil_key NOT IN ({union})"
        )
    finally:
        store.unregister("_promise_pupils")
    if n:
        return [
            f"{n} pupil(s) in the release have no record in the agreement's "
            "scope at the record's date"
        ]
    return []


def _anonymous(plan: ReleasePlan, dataset: str, path: Path) -> list[str]:
    table = pq.read_table(path)
    if not table.num_rows:
        return []
    reasons = [
        f"{dataset}: column {name} is a measurement released exactly"
        for name, col in zip(table.column_names, table.columns, strict=True)
        if pa.types.is_floating(col.type)
    ]
    frame = table.to_pandas().astype(str)  # pycanon: every column a quasi-identifier
    k = anonymity.k_anonymity(frame, list(frame.columns))
    if k < plan.sdc.k_anonymity:
        reasons.append(
            f"{dataset}: k-anonymity over all released columns together "
            f"is {k} (pycanon), under k = {plan.sdc.k_anonymity}"
        )
    return reasons


def _identified(store: Store, plan: ReleasePlan, dataset: str, path: Path) -> list[str]:
    """An agreement that files records by UPN or ULN gets one in every file and on
    every row, and no two rows are the same (a contact list, filed by no number,
    is not held to it)."""
    files_by = {r.split(".")[1] for r in plan.items} & {"upn", "uln"}
    if not files_by:
        return []
    columns = pq.read_schema(path).names
    ids = [c for c in IDENTIFIERS if c in columns]
    if not ids:
        return [
            f"{dataset}: an identified extract must carry the UPN or ULN its "
            "recipient files each record by"
        ]
    f = f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"
    named = " OR ".join(f"{c} IS NOT NULL" for c in ids)
    unnamed, dupes = store.rows(
        f"SELECT (SELECT count(*) FROM {f} WHERE NOT ({named})), "
        f"(SELECT count(*) FROM {f}) - (SELECT count(*) FROM (SELECT DISTINCT * "
        f"FROM {f}))"
    )[0]
    reasons = []
    if unnamed:
        reasons.append(
            f"{dataset}: {unnamed} row(s) without the UPN or ULN its recipient "
            "files each record by"
        )
    if dupes:
        reasons.append(
            f"{dataset}: {dupes} row(s) repeat another row exactly; the column "
            "that makes rows distinct is missing"
        )
    return reasons


def _strings(values: tuple) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
