"""The population of a release: the records an agreement covers, minus opt-outs.

This is the ONE function every release path goes through (``eligible``): record-level,
anonymised and aggregate releases all read the view it makes, so the agreement's scope
(ages, year groups, LAs, academic years) and every applicable opt-out are applied in
one place a reviewer can check. Only records matched to a pupil are eligible: an
unmatched record cannot be checked against opt-outs, so it is never released.
"""

from __future__ import annotations

from pupilshare import catalogue
from pupilshare.plan import ReleasePlan
from pupilshare.release import derive, ncmp, scope
from pupilshare.release.derive import lit
from pupilshare.store import Store

PUPIL_KEY = scope.PUPIL_KEY  # internal column: never written to a release file


def ensure_opt_outs(store: Store) -> None:
    """The opt-outs in force, rebuilt from the rights area's register (so one given
    before its pupil was matched applies as soon as the pupil is)."""
    from pupilshare.rights.optouts import refresh

    refresh(store)


def opt_out_scopes(plan: ReleasePlan) -> tuple[str, ...]:
    """An opt-out of ``all`` applies to every release; otherwise only to its scope."""
    return ("all", plan.opt_out_scope)


def eligible_sql(
    plan: ReleasePlan, dataset: str, tables: set[str], opted_join: str = "ANTI"
) -> str:
    """Rows of ``dataset`` (with derived items and ``__pupil_key``) in scope.

    Pure: ``tables`` names the store tables that exist. ``opted_join="SEMI"`` gives
    the rows opt-outs removed instead (counted in the release's ledger entry).
    """
    ds = catalogue.dataset(dataset)
    base = (
        f"(SELECT d.*, l.pupil_key AS {PUPIL_KEY} FROM {ds.table} d "
        "JOIN (SELECT collection_id, line, pupil_key FROM pupil_links "
        f"WHERE dataset = {lit(ds.name)}) l "
        "ON l.collection_id = d.collection_id AND l.line = d.line)"
    )
    derived = derive.derived_sql(ds, base, tables, needed_items(plan, dataset))
    # Scope at each record's own date (``scope``): refuses a dataset it cannot scope.
    where = scope.conditions(plan.population, dataset)
    joins = ""
    if scope.needs_pupils(plan.population, dataset):
        joins = (
            f"LEFT JOIN pupils {scope.PUPILS_ALIAS} "
            f"ON {scope.PUPILS_ALIAS}.pupil_key = s.{PUPIL_KEY}"
        )
    if ds.release_only_where:
        item, value = ds.release_only_where
        where.append(f"s.{item} = {lit(value)}")
    opted = f"(SELECT DISTINCT pupil_key FROM ({opted_out_keys_sql(plan)}))"
    join = {"ANTI": "ANTI", "SEMI": "SEMI"}[opted_join]
    return (
        f"SELECT s.* FROM ({derived}) s {joins} "
        f"{join} JOIN {opted} o ON o.pupil_key = s.{PUPIL_KEY} "
        f"WHERE {' AND '.join(where) or 'TRUE'}"
    )


def needed_items(plan: ReleasePlan, dataset: str) -> set[str]:
    """Items of ``dataset`` the plan uses: released items, table dimensions, measures
    and filters."""
    out = {r.split(".", 1)[1] for r in plan.items if r.split(".", 1)[0] == dataset}
    condition = catalogue.dataset(dataset).release_only_where
    if condition and out:
        out.add(condition[0])
    for t in plan.tables:
        if t.dataset == dataset:
            out |= {*t.rows, *t.columns, *(f[0] for f in t.filters)}
            out |= {t.measure} if t.measure else set()
    return out


def eligible(store: Store, plan: ReleasePlan, dataset: str) -> str:
    """Create the view of ``dataset``'s releasable rows; return its name."""
    ensure_opt_outs(store)
    _ensure_inputs(store, dataset)
    if plan.population.records_at:
        _ensure_inputs(store, plan.population.records_at[0])
    if dataset == "ncmp":
        ncmp.ensure_lms(store)
    tables = {
        r[0] for r in store.rows("SELECT table_name FROM information_schema.tables")
    }
    view = f"release_pop_{dataset}"
    store.rows(
        f"CREATE OR REPLACE TEMP VIEW {view} AS {eligible_sql(plan, dataset, tables)}"
    )
    return view


def _ensure_inputs(store: Store, dataset: str) -> None:
    """A dataset not collected yet (or no matching yet) releases nothing: stand in an
    empty temporary table rather than fail, never touching other areas' tables."""
    ds = catalogue.dataset(dataset)
    needed = {
        ds.table: "collection_id INTEGER, line INTEGER, "
        + ", ".join(f"{i.name} {i.sql_type}" for i in ds.collected),
        "pupil_links": "dataset VARCHAR, collection_id INTEGER, line INTEGER, "
        "pupil_key BIGINT, method VARCHAR, match_probability DOUBLE, match_run INTEGER",
        "pupils": "pupil_key BIGINT, upn VARCHAR, uln VARCHAR, forename VARCHAR, "
        "surname VARCHAR, date_of_birth DATE, sex VARCHAR, postcode VARCHAR, "
        "created_run INTEGER",
    }
    for table, columns in needed.items():
        if not store.exists(table):
            store.rows(f"CREATE TEMP TABLE {table} ({columns})")


def opted_out_keys_sql(plan: ReleasePlan) -> str:
    """The pupil keys whose opt-out applies to this plan: none when a legal duty
    exempts the agreement (``rights.optouts.exempt_sql``)."""
    from pupilshare.rights.optouts import exempt_sql

    return (
        f"SELECT pupil_key FROM opt_outs WHERE scope IN ({_list(opt_out_scopes(plan))})"
        f" AND NOT {exempt_sql(plan.agreement_id)}"
    )


def _list(values: tuple) -> str:
    return ", ".join(lit(v) for v in values)
