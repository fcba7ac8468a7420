"""The release pipeline: minimise, population, de-identify, disclosure control,
output check, package and deliver, for one plan.

``build_release`` is the one entry point (``release_agreement`` calls it with
governance's approved plan); it never produces anything more identifying than the
plan's level.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pupilshare import budget, csvsafe
from pupilshare.config import Home
from pupilshare.errors import Blocked
from pupilshare.ledger import publish_head
from pupilshare.plan import Population, ReleasePlan
from pupilshare.release import (
    aggregate,
    anonymise,
    cellkey,
    check,
    crossrelease,
    delivery,
    derive,
    minimise,
    package,
    pseudonymise,
    published_cells,
    sdc,
    tablecheck,
    trends,
)
from pupilshare.release import population as pop
from pupilshare.release.facts import ledger_facts
from pupilshare.release.package import Manifest
from pupilshare.store import Store

FORMATS = ("parquet", "csv")


def new_release_id(plan: ReleasePlan) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{plan.agreement_id}-{stamp}-{uuid.uuid4().hex[:6]}"


def build_release(
    store: Store,
    home: Home,
    plan: ReleasePlan,
    out_dir: str | Path,
    formats: tuple[str, ...] = FORMATS,
) -> Manifest:
    """Build, check and deliver one release; raises ``Blocked`` if the check fails."""
    release_id = new_release_id(plan)
    limits = _within_budget(home, plan)
    staging = delivery.prepare(store, home, release_id, Path(out_dir))
    try:
        manifest = Manifest(
            release_id=release_id,
            agreement_id=plan.agreement_id,
            recipient=plan.recipient,
            access_route=plan.access_route,
            gateway=plan.gateway,
            purpose=plan.purpose,
            level=plan.level,
            items=list(plan.items),
            plan_sha256=plan.digest,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            out_dir=str(Path(out_dir).resolve()),
        )
        witness: dict[str, tablecheck.Witness] = {}
        cells: list[tuple] = []
        with budget.enforced(store.con, limits, f"release of {plan.agreement_id}"):
            if plan.level == "aggregate":
                names, pupils = _aggregate(
                    store, home, plan, staging, formats, manifest, witness, cells
                )
            else:
                names, pupils = _records(
                    store, home, plan, staging, formats, manifest, limits.rows
                )
            if "csv" in formats:
                manifest.rules["csv_cells"] = csvsafe.RULE
            manifest.rules["budget"] = dataclasses.asdict(limits)
            names.append(package.write_readme(staging, manifest))
            manifest.files = package.describe_files(store, staging, names)
            manifest_sha = package.write_manifest(staging, manifest)
            reasons = check.check_release(store, home, plan, staging, pupils, witness)
        if reasons:
            raise Blocked(
                f"release of {plan.agreement_id} blocked by the output "
                "check; nothing was delivered",
                reasons,
            )
        for name, cell_names, values, how in cells:
            published_cells.record(
                store, release_id, plan.agreement_id, name, cell_names, values, how
            )
        facts = ledger_facts(store, home, plan)
        try:
            package.deliver(
                store,
                staging,
                Path(out_dir),
                manifest,
                manifest_sha,
                pupils,
                home,
                facts,
            )
        except BaseException:
            published_cells.forget(store, release_id)
            raise
        publish_head(store, home)
        return manifest
    finally:  # nothing is left of a release that was not delivered
        delivery.recover(store, home, only=release_id)


def _within_budget(home: Home, plan: ReleasePlan) -> budget.Budget:
    """The release's limits; a plan over them is refused before anything is built
    (an agreement from before budgets is checked here, at its first release)."""
    limits = budget.effective(plan.budget, budget.service(home.settings("release")))
    terms = {
        "level": plan.level,
        "tables": [dataclasses.asdict(t) for t in plan.tables],
    }
    over = budget.plan_problems(terms, limits)
    if over:
        raise Blocked(
            f"release of {plan.agreement_id} is over its budget; nothing was built",
            over,
        )
    return limits


def _aggregate(
    store: Store,
    home: Home,
    plan: ReleasePlan,
    staging: Path,
    formats: tuple[str, ...],
    manifest: Manifest,
    witness: dict[str, tablecheck.Witness],
    cells: list[tuple],
) -> tuple[list[str], pa.Table]:
    """Build every table; fills ``witness`` (the hypercubes offered to the check)
    and ``cells`` (what the record of published tables will hold)."""
    names: list[str] = []
    keys: list[pa.Table] = []
    tables: dict[str, pa.Table] = {}
    seen: set[str] = set()
    sources: dict[str, str] = {}
    if plan.sdc.method == "cell_key":  # record keys of the index's pupils
        index = store.arrow("SELECT pupil_key FROM pupils").column("pupil_key")
        store.register(cellkey.RECORD_KEYS, cellkey.keys_table(home, index))
    for spec in plan.tables:
        if spec.dataset not in sources:
            sources[spec.dataset] = _source(store, plan, spec.dataset)
        view = sources[spec.dataset]
        if spec.dataset not in seen:
            seen.add(spec.dataset)
            sql = f"SELECT DISTINCT {pop.PUPIL_KEY} AS pupil_key FROM {view}"
            keys.append(store.arrow(sql))
    cubes = aggregate.build_tables(
        store, list(plan.tables), lambda spec: sources[spec.dataset], plan.sdc
    )
    linked = cubes.harmonised
    lacking: dict[str, str] = {}
    for spec, cube in zip(plan.tables, cubes, strict=True):
        table = aggregate.table_arrow(spec, cube, plan.sdc)
        tables[spec.name] = table
        names += package.write_arrow(store, staging, spec.name, table, formats)
        witness[spec.name] = tablecheck.Witness(
            cube.labels, cube.cubes.corners, cube.cubes.signs
        )
        truth = cube.contributors if cube.perturbed else cube.values
        cells.append(
            (
                spec.name,
                aggregate.grid_names(spec, cube),
                truth.ravel(),
                aggregate.shown(cube, plan.sdc),
            )
        )
        if cube.not_available:
            shown_x = bool((cube.status == sdc.MISSING).any())
            lacking[spec.name] = (
                (
                    "cells shown x lie wholly in, and other figures lack, "
                    if shown_x
                    else "the figures lack "
                )
                + "files rejected at collection: "
                + ", ".join(cube.not_available)
            )
        if cube.withheld:
            manifest.risk[spec.name] = (
                "withheld whole: a cell could not be "
                "protected (its margins are already public)"
            )
    manifest.risk["linked_table_suppressions"] = linked
    names += trends.charts(plan, tables, staging)
    extra: dict = {}
    if plan.sdc.method == "cell_key":
        extra = {
            "cell_key": {
                **cellkey.rules(plan.sdc),
                "tables": [t.name for t in plan.tables if t.measure is None],
            }
        }
    sums = [t.name for t in plan.tables if t.measure is not None]
    manifest.rules = {
        "method": plan.sdc.method,
        "across_releases": crossrelease.RULE,
        **extra,
        **sdc.rules(plan.sdc, sums),
        "output_check": check.audit_method(plan),
        **({"not_available": lacking} if lacking else {}),
        "tables": [dataclasses.asdict(t) for t in plan.tables],
    }
    return names, _union(keys)


def _source(store: Store, plan: ReleasePlan, dataset: str) -> str:
    """The population of ``dataset``; kept as a table, only the columns used, when
    several tables read it (it is then joined and derived once, not per table)."""
    view = pop.eligible(store, plan, dataset)
    if sum(t.dataset == dataset for t in plan.tables) < 2:
        return view
    cols = ", ".join(sorted(pop.needed_items(plan, dataset)))
    table = f"{view}_kept"
    store.rows(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT {cols}, {pop.PUPIL_KEY} FROM {view}"
    )
    return table


def _records(
    store: Store,
    home: Home,
    plan: ReleasePlan,
    staging: Path,
    formats: tuple[str, ...],
    manifest: Manifest,
    max_rows: int | None = None,
) -> tuple[list[str], pa.Table]:
    names: list[str] = []
    rows = 0
    keys: list[pa.Table] = []
    pmap: str | None = None
    for dataset in [d for d in plan.datasets() if d != "pupil"]:
        view = pop.eligible(store, plan, dataset)
        selection = minimise.select(plan, dataset)
        manifest.removed += list(selection.removed)
        if plan.level == "anonymised":
            wide = dataclasses.replace(plan, population=Population())
            tables = {
                r[0]
                for r in store.rows("SELECT table_name FROM information_schema.tables")
            }
            result = anonymise.anonymise(
                store,
                selection,
                f"SELECT * FROM {view}",
                plan.sdc,
                population_sql=pop.eligible_sql(wide, dataset, tables),
            )
            manifest.risk[dataset] = {**result.risk, "levels": result.levels}
            names += package.write_sql(store, staging, dataset, result.sql, formats)
            kept = anonymise.pupils_sql(selection, result.levels, plan.sdc.k_anonymity)
            keys.append(store.arrow(kept))
            continue
        joins = ""
        pseudonymous = any(c.name == minimise.PSEUDONYM for c in selection.columns)
        if pseudonymous:
            if pmap is None:
                # One map per release over the index's pupils (a key column read,
                # where the distinct keys of each dataset's links cost a scan and a
                # hash aggregate of every record), joined in DuckDB by every file.
                index = store.arrow("SELECT pupil_key FROM pupils")
                pmap = pseudonymise.pseudonym_map(
                    store, home, plan.agreement_id, index.column("pupil_key")
                )
            joins += f" JOIN {pmap} pm ON pm.pupil_key = s.{pop.PUPIL_KEY}"
        if plan.level == "identified":
            joins += f" LEFT JOIN pupils px ON px.pupil_key = s.{pop.PUPIL_KEY}"
        filed = minimise.filing_condition(plan, selection)
        if filed:
            unfiled = store.one(
                f"SELECT count(*) FROM {view} s {joins} WHERE NOT {filed}"
            )
            if unfiled:
                manifest.removed.append(
                    f"{dataset}: {unfiled} record(s) withheld with no UPN or ULN "
                    "to file them by (the index holds no permanent number for "
                    "their pupil)"
                )
        sql = minimise.select_sql(selection, view, joins, filed)
        written = package.write_sql(store, staging, dataset, sql, formats)
        names += written
        rows += pq.read_metadata(staging / written[0]).num_rows
        if max_rows is not None and rows > max_rows:
            raise Blocked(
                f"release of {plan.agreement_id} holds {rows:,} rows, "
                f"over its budget of {max_rows:,}; nothing was "
                "delivered"
            )
        if pseudonymous:  # who is in it, read back from the delivered file itself
            path = derive.lit(str(staging / written[0]))
            keys.append(
                store.arrow(
                    f"SELECT pm.pupil_key FROM {pmap} pm "
                    f"SEMI JOIN read_parquet({path}) f "
                    "ON f.pupil_pseudonym = pm.pupil_pseudonym"
                )
            )
        else:
            keys.append(
                store.arrow(
                    f"SELECT DISTINCT s.{pop.PUPIL_KEY} AS pupil_key FROM {view} s "
                    f"{joins} WHERE {filed or 'TRUE'}"
                )
            )
    manifest.rules = _record_rules(plan)
    return names, _union(keys)


def _record_rules(plan: ReleasePlan) -> dict:
    """The rules a record-level release applied, as printed in it."""
    scope = plan.opt_out_scope
    rules: dict = {
        "level": plan.level,
        "population": "the agreement's scope, judged at each record's "
        "own date, minus every opt-out of "
        f"'all' or '{scope}'; matched records only",
    }
    if plan.level == "pseudonymised":
        rules["pseudonym"] = (
            "AES-256 of the pupil key under this agreement's secret, "
            "written as a UUID (128 random-looking bits)"
        )
        rules["coarsening"] = {
            k: f"to {v}" for k, v in minimise.PSEUDONYMISED_COARSENING.items()
        }
        rules["removed"] = "names, reference numbers and contact details"
    if plan.level == "anonymised":
        rules["model"] = (
            f"k-anonymity, k = {plan.sdc.k_anonymity}, distinct pupils "
            "per class of every released column together (each one an "
            "intruder may know or infer, or hold in another release); "
            "measurements never exact; full-domain generalisation "
            "along the catalogue hierarchies, then record suppression of "
            f"at most {plan.sdc.max_suppression:.0%}; risk under ARX's "
            "prosecutor, journalist and marketer models"
        )
    return rules


def _union(keys: list[pa.Table]) -> pa.Table:
    """All pupils in the release, one column ``pupil_key`` (BIGINT)."""
    schema = pa.schema([("pupil_key", pa.int64())])
    parts = [k.select(["pupil_key"]) for k in keys]
    parts = [p if p.schema == schema else p.cast(schema) for p in parts]
    return pa.concat_tables(parts) if parts else schema.empty_table()
