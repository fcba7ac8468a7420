"""The independent output check: re-reads a packaged release and blocks delivery.

Written apart from the builder and sharing none of its release logic: it works out for
itself, from the plan and the catalogue, which columns the level allows, and from the
files whether any cell is small or recoverable. Every reason names the file and the
rule, never a pupil value.

For aggregate tables it recomputes, with its own SQL over the release population
(``population.eligible``, the one scope every release path shares), what the files
cannot show:

- for a table of sums, each pupil's contribution to every cell and margin, and
  blocks the release when any published cell has fewer contributors than the
  threshold, fails (n, k) dominance or fails the p% rule;
- for a rounded table or a table of sums, the true (unrounded) values, which every
  published value must match to within the rounding, and on which the suppression
  pattern is audited (``audit``): a rounded table is not additive as published, so
  the audit assumes an intruder who knows every published cell exactly.

Before anything else it asks governance itself whether the release's agreement is
live and its decision point allows exactly this plan (``governance_reasons``): a path
round the runner that skips governance, or governance that cannot answer, is
refused.

Every suppressed table's protection is audited on the true values with the earlier
releases over the same records (``tablecheck``). Which audit ran on each table is
printed in the manifest (``audit_method``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pupilshare import catalogue, csvsafe, governance
from pupilshare.config import Home
from pupilshare.engine import EXACT
from pupilshare.plan import ReleasePlan, TableSpec
from pupilshare.release import population, promises, tablecheck
from pupilshare.release.aggregate import UNKNOWN
from pupilshare.release.derive import generalise_sql
from pupilshare.release.pseudonymise import pseudonyms_for
from pupilshare.store import Store

TOTAL = "Total"


def allowed_columns(plan: ReleasePlan, dataset: str) -> set[str]:
    """Columns the level allows in a record-level file of ``dataset``."""
    out: set[str] = set()
    for ref in plan.items:
        ds, name = ref.split(".", 1)
        it = catalogue.item(ref)
        if ds == "pupil":
            named = plan.level in ("identified", "pseudonymised")
            if name == "pupil_pseudonym" and named:
                out.add(name)
            elif plan.level == "identified":
                out.add(f"pupil_{name}")
        elif ds == dataset:
            if plan.level == "identified" or not it.identifying:
                out.add(name)
            elif plan.level == "pseudonymised" and name == "date_of_birth":
                out.add("date_of_birth_month")
            elif plan.level == "pseudonymised" and name == "postcode":
                out.add("postcode_area")
    return out


def check_release(
    store: Store,
    home: Home,
    plan: ReleasePlan,
    staging: Path,
    pupils: pa.Table,
    witness: dict[str, tablecheck.Witness] | None = None,
) -> list[str]:
    """Reasons to block the release (empty: it may be delivered). ``witness``: the
    builder's offered hypercubes per table, verified, never trusted."""
    reasons: list[str] = []
    manifest = json.loads((staging / "manifest.json").read_text())
    listed = {f["name"]: f for f in manifest["files"]}
    present = {p.name for p in staging.iterdir()} - {"manifest.json"}
    for extra in sorted(present - set(listed)):
        reasons.append(f"{extra}: file not in the manifest")
    for name, f in listed.items():
        path = staging / name
        if not path.exists():
            reasons.append(f"{name}: listed in the manifest but missing")
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != f["sha256"]:
            reasons.append(f"{name}: SHA-256 differs from the manifest")
    reasons += _manifest_is_the_plan(manifest, plan)
    reasons += governance_reasons(home, plan)
    reasons += _opt_outs(store, plan, pupils)
    reasons += promises.check(store, plan, staging, pupils)  # scope, anonymity, ids
    sources: dict[str, str] = {}
    specs = {t.name: t for t in plan.tables}
    linked_tables: list = []  # the release's tables, for one linked audit
    for name in sorted(n for n in present if n.endswith(".parquet")):
        path = staging / name
        stem = name[: -len(".parquet")]
        reasons += _csv_matches(store, staging / f"{stem}.csv", path)
        if plan.level == "aggregate":
            spec = specs.get(stem)
            reasons += check_table(
                store,
                plan,
                stem,
                pq.read_table(path),
                source=(
                    _source(store, plan, spec.dataset, sources, reasons)
                    if spec
                    else None
                ),
                witness=(witness or {}).get(stem),
                linked_into=linked_tables,
            )
        else:
            reasons += _check_records(store, home, plan, stem, path)
            if plan.level == "anonymised" and stem in catalogue.DATASETS:
                levels = (manifest.get("risk") or {}).get(stem, {}).get("levels")
                reasons += _pupils_per_class(store, plan, stem, path, levels)
    if linked_tables and not reasons:
        reasons += tablecheck.release_linked_reasons(store, plan, linked_tables)
    return reasons


def governance_reasons(home: Home, plan: ReleasePlan) -> list[str]:
    """The check asks governance itself (issue 10 points 3 and 8), never trusting
    the plan the runner handed over: the agreement must be live today, the plan
    governance builds from it today must be exactly the plan released (the same
    digest), and the decision point must allow releasing it (the check's question
    is recorded in the policy log like any other). Governance that cannot answer,
    for any reason, blocks the release: it fails closed."""
    try:
        approved = governance.approved_release(home, None, plan.agreement_id)
    except Exception as e:  # any failure to answer is a refusal, never a release
        return [
            f"governance could not confirm that agreement {plan.agreement_id} is "
            f"live and approved for this plan ({type(e).__name__}: {e})"
        ]
    reasons = []
    answer = approved.answer
    if answer is None or answer.allowed is not True:
        why = "; ".join(getattr(answer, "explanations", ()) or ()) or "no permit"
        reasons.append(
            f"governance does not allow releasing {plan.agreement_id} ({why})"
        )
    if approved.plan.digest != plan.digest:
        reasons.append(
            f"the plan released is not the plan governance approves for "
            f"{plan.agreement_id} today"
        )
    return reasons


def _manifest_is_the_plan(manifest: dict, plan: ReleasePlan) -> list[str]:
    """The manifest names exactly the approved plan the release was checked
    against (issue 10 point 2): its agreement, recipient, gateway, purpose, level
    and items, and the plan's digest; another recipient or item written into it
    is a different release from the one approved."""
    want = {
        "agreement_id": plan.agreement_id,
        "recipient": plan.recipient,
        "access_route": plan.access_route,
        "gateway": plan.gateway,
        "purpose": plan.purpose,
        "level": plan.level,
        "items": list(plan.items),
        "plan_sha256": plan.digest,
    }
    return [
        f"manifest.json: {key} is not the approved plan's"
        for key, value in want.items()
        if manifest.get(key) != value
    ]


def _source(
    store: Store,
    plan: ReleasePlan,
    dataset: str,
    made: dict[str, str],
    reasons: list[str],
) -> str:
    """The check's own population of ``dataset``, made once per release: kept as a
    table, only the columns used, when several tables read it (else each table's
    truth would derive the whole dataset again). Every record of it is first held
    to the check's own reading of the scope (``promises.outside_scope``), so the
    true values cannot count a record the agreement does not cover."""
    if dataset in made:
        return made[dataset]
    view = population.eligible(store, plan, dataset)
    reasons += promises.outside_scope(store, plan, dataset, view)
    if sum(t.dataset == dataset for t in plan.tables) > 1:
        cols = ", ".join(sorted(population.needed_items(plan, dataset)))
        kept = f"{view}_checked"
        store.rows(
            f"CREATE OR REPLACE TEMP TABLE {kept} AS "
            f"SELECT {cols}, {population.PUPIL_KEY} FROM {view}"
        )
        view = kept
    made[dataset] = view
    return view


def _csv_matches(store: Store, csv: Path, parquet: Path) -> list[str]:
    """The CSV copy must carry the same columns and rows as the Parquet file."""
    if not csv.exists():
        return []
    meta = pq.read_metadata(parquet)
    try:
        header = csvsafe.header(csv)
        rows = store.rows(f"SELECT count(*) FROM {csvsafe.read_sql(csv, header)}")
    except Exception:  # noqa: BLE001 - any parse failure blocks the release
        return [f"{csv.name}: not a readable CSV table"]
    if header != pq.read_schema(parquet).names or rows[0][0] != meta.num_rows:
        return [f"{csv.name}: differs from its Parquet file in columns or rows"]
    return []


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _opt_outs(store: Store, plan: ReleasePlan, pupils: pa.Table) -> list[str]:
    if not store.exists("opt_outs"):
        return []
    store.register("_check_pupils", pupils)
    try:
        n = store.one(
            "SELECT count(DISTINCT p.pupil_key) FROM _check_pupils p JOIN opt_outs o "
            "ON o.pupil_key = p.pupil_key WHERE o.scope IN ('all', ?) AND NOT "
            "EXISTS (SELECT 1 FROM optout_exemptions e WHERE e.agreement_id = ? "
            "AND e.withdrawn_at IS NULL)",
            [plan.opt_out_scope, plan.agreement_id],
        )
    finally:
        store.unregister("_check_pupils")
    return [f"{n} opted-out pupil(s) are in the release"] if n else []


def _check_records(
    store: Store, home: Home, plan: ReleasePlan, dataset: str, path: Path
) -> list[str]:
    reasons = []
    allowed = allowed_columns(plan, dataset)
    columns = pq.read_schema(path).names
    for col in columns:
        if col not in allowed:
            reasons.append(f"{dataset}: column {col} is outside the agreement")
    if "pupil_pseudonym" in columns and store.exists("opt_outs"):
        keys = [
            r[0]
            for r in store.rows(
                "SELECT DISTINCT pupil_key FROM opt_outs WHERE scope IN ('all', ?) AND "
                "NOT EXISTS (SELECT 1 FROM optout_exemptions e "
                "WHERE e.agreement_id = ? "
                "AND e.withdrawn_at IS NULL)",
                [plan.opt_out_scope, plan.agreement_id],
            )
        ]
        if keys:
            banned = pseudonyms_for(home, plan.agreement_id, keys)
            hits = store.rows(
                f"SELECT count(*) FROM read_parquet({_lit(path)}) "
                "WHERE pupil_pseudonym IN (SELECT unnest(?::UUID[]))",
                [banned],
            )
            if hits[0][0]:
                reasons.append(f"{dataset}: an opted-out pupil's pseudonym appears")
    ds = catalogue.dataset(dataset)
    if ds.release_only_where:
        item, value = ds.release_only_where
        if item not in columns:
            reasons.append(
                f"{dataset}: {item} must be released to show every row "
                f"has {item} = {value}"
            )
        else:
            bad = store.rows(
                f"SELECT count(*) FROM read_parquet({_lit(path)}) "
                f"WHERE {item} IS DISTINCT FROM ?",
                [value],
            )[0][0]
            if bad:
                reasons.append(f"{dataset}: {bad} row(s) without {item} = {value}")
    quasi = [c for c in columns if c in ds and ds.item(c).quasi]
    if plan.level == "anonymised" and quasi:
        table = pq.read_table(path, columns=quasi)
        if table.num_rows:
            sizes = table.group_by(quasi).aggregate([([], "count_all")])
            smallest = min(sizes.column("count_all").to_pylist())
            if smallest < plan.sdc.k_anonymity:
                reasons.append(
                    f"{dataset}: k-anonymity fails (a class of {smallest} "
                    f"records, k = {plan.sdc.k_anonymity})"
                )
    return reasons


def _pupils_per_class(
    store: Store,
    plan: ReleasePlan,
    dataset: str,
    path: Path,
    levels: dict[str, str] | None,
) -> list[str]:
    """k counts pupils, not rows (a pupil with a census row every year is one
    pupil): the file cannot show whose each row is, so the records can. The
    release's population (its records held to the check's own scope first) is
    generalised to the levels the manifest declares, column by column, and each
    class of the file must hold at least k distinct pupils, and no more rows than
    the records give it. A class no record makes (a level misdeclared, a value
    not from the records) blocks too."""
    columns = pq.read_schema(path).names
    if not pq.read_metadata(path).num_rows:
        return []
    if not levels or set(columns) - set(levels):
        return [f"{dataset}: the manifest does not declare every column's level"]
    view = population.eligible(store, plan, dataset)
    reasons = promises.outside_scope(store, plan, dataset, view)
    k = plan.sdc.k_anonymity
    made = ", ".join(
        f"CAST({c if levels[c] == 'original' else generalise_sql(levels[c], c)} "
        f"AS VARCHAR) AS {c}"
        for c in columns
    )
    shown = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in columns)
    same = " AND ".join(f"f.{c} IS NOT DISTINCT FROM p.{c}" for c in columns)
    short, unmade = store.rows(
        f"WITH p AS (SELECT {', '.join(columns)}, count(DISTINCT "
        f"{population.PUPIL_KEY}) AS pupils, count(*) AS records FROM (SELECT "
        f"{made}, {population.PUPIL_KEY} FROM {view}) GROUP BY ALL), "
        f"f AS (SELECT {', '.join(columns)}, count(*) AS n FROM (SELECT {shown} "
        f"FROM read_parquet({_lit(path)})) GROUP BY ALL) "
        "SELECT count(*) FILTER (WHERE p.pupils < ? OR f.n > p.records), "
        f"count(*) FILTER (WHERE p.pupils IS NULL) FROM f LEFT JOIN p ON {same}",
        [k],
    )[0]
    if short:
        reasons.append(
            f"{dataset}: {short} released class(es) hold fewer than k = {k} "
            "distinct pupils (or more rows than their records)"
        )
    if unmade:
        reasons.append(
            f"{dataset}: {unmade} released class(es) that no record in scope "
            "makes at the declared levels"
        )
    return reasons


def audit_method(plan: ReleasePlan) -> dict[str, str]:
    """Which audit the check runs on each table, for the manifest."""
    out = {}
    for t in plan.tables:
        if plan.sdc.method == "cell_key" and t.measure is None:
            out[t.name] = (
                "perturbation check: every count recomputed from the store with its "
                "cell key (the sum of its pupils' record keys), and each published "
                "value must be that count changed exactly as the perturbation table "
                "says; no perturbed count from 1 to the threshold less 1 may show"
            )
            continue
        out[t.name] = (
            "interval audit: the range of every suppressed cell given the true values "
            "(unrounded) "
            "recomputed from the store, every row, column and total equation, "
            "non-negative cells and every cell earlier releases over the same records "
            "published, and then together with every earlier table over the same "
            "records linked to it through the hierarchies (school to LA to nation, "
            "outcome to reached the expected standard, year group to key stage), "
            "whose suppressed cells must stay protected too (tables that cross "
            "items in a cycle over their finest common cells, exactly, else "
            "refused); sensitive cells must "
            "keep their protection interval; the "
            "builder's hypercubes are verified on the check's own equations, every "
            "other cell solved by linear programming (HiGHS)"
        )
    return out


def check_table(
    store: Store,
    plan: ReleasePlan,
    name: str,
    table: pa.Table,
    source: str | None = None,
    witness: tablecheck.Witness | None = None,
    linked_into: list | None = None,
) -> list[str]:
    """Reasons to block one published table. ``source`` names the population its
    true values are recomputed from (default: the release population).
    ``linked_into``: collects the table for the release's one linked audit
    (``tablecheck.release_linked_reasons``) instead of auditing it here."""
    specs = {t.name: t for t in plan.tables}
    spec = specs.get(name)
    if spec is None:
        return [f"{name}: table not in the agreement"]
    dims = [*spec.rows, *spec.columns]
    reasons = [
        f"{name}: column {c} is outside the agreement"
        for c in table.column_names
        if c not in {*dims, "value", "symbol"}
    ]
    if reasons:
        return reasons
    values = table.column("value").to_numpy(zero_copy_only=False).astype(float)
    symbol = pc.fill_null(pc.equal(table.column("symbol"), "c"), False)
    suppressed = symbol.to_numpy(zero_copy_only=False)
    if plan.sdc.method == "cell_key" and spec.measure is None:
        source = source or population.eligible(store, plan, spec.dataset)
        return tablecheck.perturbation_reasons(store, plan, spec, table, source)
    shown = ~np.isnan(values)
    if spec.measure is None and not plan.sdc.rounding:  # rounded: on true counts
        small = shown & (values > 0) & (values < plan.sdc.threshold)
        if small.any():
            reasons.append(
                f"{name}: {int(small.sum())} published cell(s) under the "
                f"threshold of {plan.sdc.threshold}"
            )
    if spec.measure is None and spec.columns:
        grid = _grid(table, dims, values, suppressed)
        if grid is not None:
            attrs = range(len(spec.rows), len(dims))
            n = _revealing_zeros(*grid, attrs)
            if n:
                reasons.append(
                    f"{name}: {n} group(s) shown wholly in one category "
                    "by published zeros"
                )
    source = source or population.eligible(store, plan, spec.dataset)
    truth = _truth(store, plan, spec, table, source)
    reasons += _truth_rules(plan, spec, values, suppressed, truth)
    reasons += tablecheck.protection_reasons(
        store, plan, spec, table, truth, suppressed, witness, linked_into
    )
    return reasons


def _truth(
    store: Store, plan: ReleasePlan, spec: TableSpec, table: pa.Table, view: str
) -> dict[str, np.ndarray]:
    """Each published row's true value, recomputed from the population in SQL.

    Counts: distinct pupils per cell (one row per cell and pupil, then counted:
    faster than count(DISTINCT)), margins the sum of their cells (the table is
    additive). Sums: every pupil's contribution to each cell and margin (CUBE over
    the dimensions, per pupil), then per cell the pupils, total, two largest
    contributions and the ``dominance_n`` largest together. Aligned to the rows of
    ``table``; a row with no records gets zeros.
    """
    dims = [*spec.rows, *spec.columns]
    cats = ", ".join(
        f"coalesce(CAST({d} AS VARCHAR), {_lit(UNKNOWN)}) AS {d}" for d in dims
    )
    where = [
        f"CAST({item} AS VARCHAR) IN ({', '.join(_lit(v) for v in vals)})"
        for item, vals in spec.filters
    ]
    if spec.measure:
        where.append(f"{spec.measure} IS NOT NULL")
    cond = " AND ".join(where) or "TRUE"
    labels = ", ".join(f"coalesce({d}, {_lit(TOTAL)}) AS {d}" for d in dims)
    cube = f"CUBE({', '.join(dims)})"
    if spec.measure is None:
        sql = (
            f"SELECT {labels}, sum(n) AS value, sum(n) AS n, 0.0 AS top1, "
            "0.0 AS top2, 0.0 AS top_n FROM (SELECT "
            f"{', '.join(dims)}, count(pk) AS n FROM (SELECT {cats}, "
            f"{population.PUPIL_KEY} AS pk FROM {view} WHERE {cond} GROUP BY ALL) "
            f"GROUP BY ALL) GROUP BY {cube}"
        )
    else:
        n = max(int(plan.sdc.dominance_n), 1)
        sql = (
            f"SELECT {labels}, sum(v) AS value, count(*) AS n, max(v) AS top1, "
            "coalesce(max(v, 2)[2], 0) AS top2, "
            f"list_sum(max(v, {n})) AS top_n FROM (SELECT {', '.join(dims)}, pk, "
            f"sum(v) AS v FROM (SELECT {cats}, {population.PUPIL_KEY} AS pk, "
            f"CAST({spec.measure} AS {EXACT}) AS v FROM {view} WHERE {cond}) "
            f"GROUP BY {cube}, pk) GROUP BY ALL"
        )
    doubles = ", ".join(  # a HUGEINT sum would reach NumPy as Python objects
        f"CAST(coalesce({c}, 0) AS DOUBLE) AS {c}"
        for c in ("value", "n", "top1", "top2", "top_n")
    )
    aligned = _aligned(
        store.arrow(f"SELECT {', '.join(dims)}, {doubles} FROM ({sql})"), table, dims
    )
    if aligned is not None:
        return aligned
    published = table.select(dims).append_column(
        "row_no", pa.array(np.arange(table.num_rows))
    )
    store.register("_check_cells", published)
    try:
        on = " AND ".join(f"t.{d} = p.{d}" for d in dims)
        out = store.arrow(
            "SELECT "  # doubles: a HUGEINT sum would reach NumPy as Python objects
            + ", ".join(
                f"CAST(coalesce(t.{c}, 0) AS DOUBLE) AS {c}"
                for c in ("value", "n", "top1", "top2", "top_n")
            )
            + f", p.row_no FROM _check_cells p LEFT JOIN ({sql}) t ON {on}"
        )
    finally:
        store.unregister("_check_cells")
    at = out.column("row_no").to_numpy()  # back to the table's order (no sort)
    truth = {}
    for c in out.column_names:
        if c != "row_no":
            truth[c] = np.zeros(table.num_rows)
            truth[c][at] = out.column(c).to_numpy(zero_copy_only=False)
    return truth


def _aligned(
    truth: pa.Table, table: pa.Table, dims: list[str]
) -> dict[str, np.ndarray] | None:
    """The true values (``truth``: one row per cell with records, labels as text)
    on the rows of ``table``, matched by each row's categories as codes in NumPy
    (a join of the published rows in SQL took seconds at 10 M pupils); a row no
    true cell matches gets zeros. None when the codes would not fit an int64."""
    sizes, keys = [], []
    mine = []
    for d in dims:
        col = pc.cast(table.column(d), pa.string())
        cats = pc.unique(pc.drop_null(col))
        sizes.append(len(cats) + 1)
        mine.append(pc.index_in(col, value_set=cats))
        keys.append(pc.index_in(pc.cast(truth.column(d), pa.string()), value_set=cats))
    if float(np.prod(np.array(sizes, float))) >= 2.0**62:
        return None

    def flat(codes: list) -> np.ndarray:
        out = np.zeros(len(codes[0]), np.int64)
        for c, n in zip(codes, sizes, strict=True):  # null: no such category
            out = out * n + pc.fill_null(c, n - 1).to_numpy(zero_copy_only=False)
        return out

    def known(codes: list) -> np.ndarray:
        ok = np.ones(len(codes[0]), bool)
        for c in codes:
            ok &= pc.is_valid(c).to_numpy(zero_copy_only=False)
        return ok

    rows = flat(mine)
    rows = np.where(known(mine), rows, -1)  # a row with an unknown label: no match
    cells = np.where(known(keys), flat(keys), -2)
    order = np.argsort(cells, kind="stable")
    at = np.searchsorted(cells[order], rows)
    at = np.minimum(at, len(order) - 1) if len(order) else at
    hit = (rows >= 0) & (len(order) > 0)
    if len(order):
        hit &= cells[order][at] == rows
    src = order[at[hit]] if len(order) else np.zeros(0, np.int64)
    out = {}
    for c in ("value", "n", "top1", "top2", "top_n"):
        v = truth.column(c).to_numpy(zero_copy_only=False)
        out[c] = np.zeros(table.num_rows)
        out[c][hit] = v[src]
    return out


def _truth_rules(
    plan: ReleasePlan,
    spec: TableSpec,
    values: np.ndarray,
    suppressed: np.ndarray,
    truth: dict[str, np.ndarray],
) -> list[str]:
    """Rules only the true values can show: a published value that is not the
    store's (beyond rounding), and for sums the threshold on contributors, (n, k)
    dominance and the p% rule on every published cell."""
    rules, name, out = plan.sdc, spec.name, []
    published = ~suppressed
    tol = (rules.rounding or 0) / 2 + (0.005 if spec.measure else 0) + 1e-6
    shown = ~np.isnan(values)
    off = shown & (np.abs(np.where(shown, values, 0) - truth["value"]) > tol)
    if off.any():
        out.append(
            f"{name}: {int(off.sum())} published value(s) differ from the "
            "store's true values"
        )
    if spec.measure is None:
        small = published & (truth["n"] > 0) & (truth["n"] < rules.threshold)
        if rules.rounding and small.any():
            out.append(
                f"{name}: {int(small.sum())} published cell(s) under the "
                f"threshold of {rules.threshold} before rounding"
            )
        return out
    total, n, first = truth["value"], truth["n"], truth["top1"]
    positive = published & (total > 0)
    checks = {
        f"fewer than {rules.threshold} contributors": published
        & (n > 0)
        & (n < rules.threshold),
        f"dominance: the {rules.dominance_n} largest contributions make "
        f"{rules.dominance_k:.0%} or more": positive
        & (truth["top_n"] >= rules.dominance_k * total),
        f"p% rule: the total less the 2 largest contributions is under "
        f"{rules.p_ratio:.0%} of the largest": positive
        & (total - first - truth["top2"] < rules.p_ratio * first),
    }
    for rule, bad in checks.items():
        if bad.any():
            out.append(
                f"{name}: {int(bad.sum())} published sum cell(s) break the "
                f"rules ({rule})"
            )
    return out


def _grid(
    table: pa.Table, dims: list[str], values: np.ndarray, suppressed: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The file as a full array, totals last on each axis (None: not a full grid)."""
    codes, cats = tablecheck.grid_codes(table, dims)
    shape = [len(c) + 1 for c in cats]
    if int(np.prod(shape)) != len(values):
        return None
    v = np.full(shape, np.nan)
    m = np.zeros(shape, bool)
    v[tuple(codes)] = values
    m[tuple(codes)] = suppressed
    return v, m


def _revealing_zeros(v: np.ndarray, m: np.ndarray, axes: range) -> int:
    """Lines of an attribute whose positive total is in one category while every
    other category is a published zero (group disclosure)."""
    found = 0
    for axis in axes:
        vv, mm = np.moveaxis(v, axis, -1), np.moveaxis(m, axis, -1)
        inner_v, inner_m = vv[..., :-1], mm[..., :-1]
        if inner_v.shape[-1] < 2:
            continue
        zeros = (~inner_m & (inner_v == 0)).sum(axis=-1)
        total_positive = mm[..., -1] | (vv[..., -1] > 0)
        found += int((total_positive & (zeros == inner_v.shape[-1] - 1)).sum())
    return found
