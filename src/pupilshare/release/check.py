"""The independent output check: re-reads a packaged release and blocks delivery.

Written apart from the builder and sharing none of its release logic: it works out for
itself, from the plan and the catalogue, which columns the level allows, and from the
files alone whether any cell is small or recoverable. Every reason names the file and
the rule, never a pupil value.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import sparse
from scipy.linalg import null_space
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import lsqr
from threadpoolctl import threadpool_limits

from pupilshare import catalogue
from pupilshare.config import Home
from pupilshare.release.plan import ReleasePlan
from pupilshare.release.pseudonymise import pseudonyms_for
from pupilshare.store import Store

TOTAL = "Total"
# Suppressed cells per release whose range is bounded by linear programming (two
# small LPs each); beyond it the exact null-space check still covers every cell.
LP_MAX_CELLS = 150
DENSE_CELLS = 300  # linked suppressed cells solved by a dense SVD


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


def check_release(store: Store, home: Home, plan: ReleasePlan, staging: Path,
                  pupils: pa.Table) -> list[str]:  # fmt: skip
    """Reasons to block the release (empty: it may be delivered)."""
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
    reasons += _opt_outs(store, plan, pupils)
    budget = [LP_MAX_CELLS]
    for name in sorted(n for n in present if n.endswith(".parquet")):
        path = staging / name
        stem = name[: -len(".parquet")]
        reasons += _csv_matches(store, staging / f"{stem}.csv", path)
        if plan.level == "aggregate":
            reasons += _check_table(plan, stem, pq.read_table(path), budget)
        else:
            reasons += _check_records(store, home, plan, stem, path)
    return reasons


def _csv_matches(store: Store, csv: Path, parquet: Path) -> list[str]:
    """The CSV copy must carry the same columns and rows as the Parquet file."""
    if not csv.exists():
        return []
    meta = pq.read_metadata(parquet)
    try:
        rows = store.rows(f"SELECT count(*) FROM read_csv({_lit(csv)}, header = true)")
        header = csv.open().readline().strip().split(",")
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
            "ON o.pupil_key = p.pupil_key WHERE o.scope IN ('all', ?)",
            [plan.opt_out_scope],
        )
    finally:
        store.unregister("_check_pupils")
    return [f"{n} opted-out pupil(s) are in the release"] if n else []


def _check_records(store: Store, home: Home, plan: ReleasePlan, dataset: str,
                   path: Path) -> list[str]:  # fmt: skip
    reasons = []
    allowed = allowed_columns(plan, dataset)
    columns = pq.read_schema(path).names
    for col in columns:
        if col not in allowed:
            reasons.append(f"{dataset}: column {col} is outside the agreement")
    if "pupil_pseudonym" in columns and store.exists("opt_outs"):
        keys = [r[0] for r in store.rows(
            "SELECT DISTINCT pupil_key FROM opt_outs WHERE scope IN ('all', ?)",
            [plan.opt_out_scope])]  # fmt: skip
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
            reasons.append(f"{dataset}: {item} must be released to show every row "
                           f"has {item} = {value}")  # fmt: skip
        else:
            bad = store.rows(
                f"SELECT count(*) FROM read_parquet({_lit(path)}) "
                f"WHERE {item} IS DISTINCT FROM ?", [value])[0][0]  # fmt: skip
            if bad:
                reasons.append(f"{dataset}: {bad} row(s) without {item} = {value}")
    quasi = [c for c in columns if c in ds and ds.item(c).quasi]
    if plan.level == "anonymised" and quasi:
        table = pq.read_table(path, columns=quasi)
        if table.num_rows:
            sizes = table.group_by(quasi).aggregate([([], "count_all")])
            smallest = min(sizes.column("count_all").to_pylist())
            if smallest < plan.sdc.k_anonymity:
                reasons.append(f"{dataset}: k-anonymity fails (a class of {smallest} "
                               f"records, k = {plan.sdc.k_anonymity})")  # fmt: skip
    return reasons


def _check_table(plan: ReleasePlan, name: str, table: pa.Table,
                 budget: list[int]) -> list[str]:  # fmt: skip
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
    symbol = np.asarray(table.column("symbol").to_pylist(), dtype=object)
    shown = ~np.isnan(values)
    if spec.measure is None:
        small = shown & (values > 0) & (values < plan.sdc.threshold)
        if small.any():
            reasons.append(f"{name}: {int(small.sum())} published cell(s) under the "
                           f"threshold of {plan.sdc.threshold}")  # fmt: skip
    if spec.measure is None and spec.columns:
        grid = _grid(table, dims, values, symbol == "c")
        if grid is not None:
            attrs = range(len(spec.rows), len(dims))
            n = _revealing_zeros(*grid, attrs)
            if n:
                reasons.append(f"{name}: {n} group(s) shown wholly in one category "
                               "by published zeros")  # fmt: skip
    if plan.sdc.rounding:
        return reasons  # rounded tables are not additive: differencing is bounded
    n = _recoverable(table, dims, values, symbol == "c", spec.measure is None, budget)
    if n:
        reasons.append(
            f"{name}: {n} suppressed cell(s) can be recovered from the "
            "rows, columns or totals"
        )
    return reasons


def _grid(table: pa.Table, dims: list[str], values: np.ndarray,
          suppressed: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """The file as a full array, totals last on each axis (None: not a full grid)."""
    codes, shape = [], []
    for d in dims:
        labels = np.asarray(table.column(d).to_pylist(), dtype=object).astype(str)
        cats = np.unique(labels[labels != TOTAL])
        code = np.where(labels == TOTAL, len(cats), np.searchsorted(cats, labels))
        codes.append(code)
        shape.append(len(cats) + 1)
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


def _recoverable(table: pa.Table, dims: list[str], values: np.ndarray,
                 suppressed: np.ndarray, counts: bool,
                 budget: list[int]) -> int:  # fmt: skip
    """Suppressed cells whose value the table's own sums pin down (exactly, or for
    counts to within one), from the line equations with non-negative cells."""
    if not suppressed.any():
        return 0
    grid = _grid(table, dims, values, suppressed)
    if grid is None:
        return int(suppressed.sum())  # not a complete table: cannot vouch for it
    v, m = grid
    zero_lines = 0
    for axis in range(m.ndim):  # a line published as summing to 0 gives its cells
        total = np.take(v, [m.shape[axis] - 1], axis=axis)
        shown_zero = (total == 0) & ~np.take(m, [m.shape[axis] - 1], axis=axis)
        zero_lines += int((m & np.broadcast_to(shown_zero, m.shape)).sum())
    if zero_lines:
        return zero_lines
    cells = np.flatnonzero(m)
    where = np.unravel_index(cells, m.shape)
    eq_rows, eq_cols, eq_coef, rhs = [], [], [], []
    base = 0
    for axis, n in enumerate(m.shape):
        moved_v = np.moveaxis(np.where(m, 0.0, np.nan_to_num(v)), axis, -1)
        interior = moved_v[..., :-1].sum(axis=-1) - moved_v[..., -1]
        other = [w for j, w in enumerate(where) if j != axis]
        other_shape = [s for j, s in enumerate(m.shape) if j != axis]
        line = np.ravel_multi_index(other, other_shape) if other else cells * 0
        eq_rows.append(base + line)
        eq_cols.append(np.arange(len(cells)))
        eq_coef.append(np.where(where[axis] == n - 1, -1.0, 1.0))
        rhs.append(-interior.ravel())
        base += int(np.prod(other_shape)) if other_shape else 1
    a = sparse.csr_matrix(
        (np.concatenate(eq_coef), (np.concatenate(eq_rows), np.concatenate(eq_cols))),
        shape=(base, len(cells)),
    )
    b = np.concatenate(rhs)
    keep = np.unique(a.nonzero()[0])
    a, b = a[keep], b[keep]
    n_comp, label = connected_components((a.T @ a).tocsr(), directed=False)
    found = 0
    for comp in range(n_comp):
        cols = np.flatnonzero(label == comp)
        sub = a[:, cols]
        rows = np.unique(sub.nonzero()[0])
        sub, sb = sub[rows], b[rows]
        fixed = ~_moves(sub)
        found += int(fixed.sum())
        if fixed.any() or len(cols) > budget[0]:
            continue
        budget[0] -= len(cols)
        found += _lp_pinned(sub.toarray(), sb, 1.0 if counts else 1e-6)
    return found


def _moves(a: sparse.csr_matrix) -> np.ndarray:
    """Cells some solution of ``a @ x = 0`` moves (so the published sums cannot fix
    them): the null space by SVD when small; when large, random vectors projected
    by least squares, trusted only well above their residual (doubt blocks)."""
    n = a.shape[1]
    with threadpool_limits(1):
        if n <= DENSE_CELLS:
            basis = null_space(a.toarray())
            if basis.shape[1] == 0:
                return np.zeros(n, bool)
            return np.linalg.norm(basis, axis=1) > 1e-6
        moved = np.zeros(n, bool)
        rng = np.random.default_rng(1)
        for _ in range(4):
            r = rng.standard_normal(n)
            y = lsqr(a.T, r, atol=1e-14, btol=1e-14, iter_lim=20 * n)[0]
            v = r - a.T @ y
            limit = 10 * np.sqrt(a.shape[0]) * np.linalg.norm(a @ v) + 1e-6
            moved |= np.abs(v) > limit
        return moved


def _lp_pinned(a: np.ndarray, b: np.ndarray, tol: float) -> int:
    """Cells whose range, given non-negative cells, is narrower than ``tol``."""
    pinned = 0
    for j in range(a.shape[1]):
        c = np.zeros(a.shape[1])
        c[j] = 1.0
        lo = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        if lo.status == 0 and hi.status == 0 and (-hi.fun - lo.fun) < tol:
            pinned += 1
    return pinned
