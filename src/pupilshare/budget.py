"""Budgets: every release and table has limits on cells, rows, memory and time, so
a plan that would run for ten minutes at 3 GB is refused when it is submitted, with
the figure, and a release that still overruns is stopped and delivers nothing.

The service's limits are ``[release.budget]`` in ``HOME/pupilshare.toml`` (defaults
below); an agreement may set lower ones in its ``budget:`` terms, never higher.

- ``cells``: the most cells one aggregate table may have, margins included. The
  count is an upper bound from the catalogue (code sets, LA numbers, ranges), known
  before any data is read, so it is checked at submission.
- ``rows``: the most rows a record-level release may hold; checked at submission
  against the store's current row counts (an upper bound: the population filter
  only removes rows) and again, exactly, before any file is written.
- ``memory_mb`` and ``seconds``: the engine's memory limit while the release is
  built, and the time after which it is interrupted.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pupilshare import catalogue
from pupilshare.errors import Blocked

UNBOUNDED = 10**9  # distinct values of a free-text or measured item: no bound
# Items with a known bound the catalogue does not state: derived ones from short
# lists (release/derive.py), academic years (2000-2100, as ks_results declares) and
# schools (England has about 24,000; 30,000 leaves room).
KNOWN_VALUES = {
    "weight_category": 5,
    "ethnic_group": 10,
    "health_area": 300,
    "academic_year": 101,
    "laestab": 30_000,
}


@dataclass(frozen=True)
class Budget:
    """Limits of one release; ``None`` means the service's limit."""

    cells: int | None = None
    rows: int | None = None
    memory_mb: int | None = None
    seconds: int | None = None


DEFAULT = Budget(cells=25_000_000, rows=20_000_000, memory_mb=4096, seconds=300)
KEYS = tuple(f.name for f in dataclasses.fields(Budget))


def errors(raw: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``budget:`` terms: unknown keys, values that are not
    whole numbers above 0."""
    out = [
        f"budget: unknown key {k!r} (known: {', '.join(KEYS)})"
        for k in raw
        if k not in KEYS
    ]
    for k, v in raw.items():
        whole = isinstance(v, int) and not isinstance(v, bool)
        if k in KEYS and (not whole or v < 1):
            out.append(f"budget: {k} must be a whole number above 0")
    return out


def service(settings: Mapping[str, Any] | None = None) -> Budget:
    """The service's limits: ``[release.budget]`` settings over the defaults."""
    raw = dict((settings or {}).get("budget") or {})
    bad = errors(raw)
    if bad:
        from pupilshare.errors import InvalidInput

        raise InvalidInput("pupilshare.toml [release.budget] is not valid", bad)
    return dataclasses.replace(DEFAULT, **raw)


def effective(
    agreement: Mapping[str, Any] | Budget | None, limits: Budget = DEFAULT
) -> Budget:
    """The agreement's limits, each capped by the service's."""
    own = agreement if isinstance(agreement, Budget) else Budget(**(agreement or {}))
    return Budget(
        **{
            k: min(v for v in (getattr(own, k), getattr(limits, k)) if v is not None)
            for k in KEYS
        }
    )


def above_service(agreement: Mapping[str, Any], limits: Budget) -> list[str]:
    """Agreement limits the service does not allow (an agreement may only lower)."""
    out = []
    for k, v in agreement.items():
        cap = getattr(limits, k, None) if k in KEYS else None
        if isinstance(v, int) and cap is not None and v > cap:
            out.append(f"budget: {k} {v:,} is above the service's limit of {cap:,}")
    return out


def distinct_values(dataset: str, name: str) -> int:
    """An upper bound on the distinct values of one item (catalogue facts only)."""
    item = catalogue.dataset(dataset).item(name)
    if item.codes is not None:
        return len(item.codes.values)
    if item.check == "la_code":
        from pupilshare.identifiers import LA_NUMBERS

        return len(LA_NUMBERS)
    if name in KNOWN_VALUES:
        return KNOWN_VALUES[name]
    bounded = item.minimum is not None and item.maximum is not None
    if item.type == "integer" and bounded:
        return int(item.maximum - item.minimum) + 1  # type: ignore[operator]
    return UNBOUNDED


def table_cells(table: Mapping[str, Any], rows: int | None = None) -> int:
    """Cells of an aggregate table, margins included: at most the product over its
    row and column items of (values + 1), a filtered item counting only its kept
    values. With the dataset's ``rows`` known, each margin also has at most one
    cell per row, which bounds a sparse table (school by outcome) far better."""
    filters = dict(table.get("filters") or {})
    dims = [*table.get("rows", ()), *table.get("columns", ())]
    ds = table["dataset"]
    sizes = [len(filters[d]) if d in filters else distinct_values(ds, d) for d in dims]
    dense = math.prod(n + 1 for n in sizes)
    if rows is None:
        return dense
    sparse = sum(
        min(math.prod(n for n, keep in zip(sizes, mask, strict=True) if keep), rows)
        for mask in itertools.product((False, True), repeat=len(sizes))
    )
    return min(dense, sparse)


def plan_problems(
    terms: Mapping[str, Any],
    budget: Budget,
    dataset_rows: Mapping[str, int] | None = None,
) -> list[str]:
    """Why the terms would go over ``budget``, each with the figure."""
    out = []
    for t in terms.get("tables") or []:
        try:
            cells = table_cells(t, (dataset_rows or {}).get(str(t.get("dataset"))))
        except KeyError:
            continue  # an unknown item: the catalogue check reports it
        if budget.cells is not None and cells > budget.cells:
            shown = "unbounded" if cells >= UNBOUNDED else f"up to {cells:,}"
            out.append(
                f"table {t.get('name')!r} would have {shown} cells, over "
                f"the budget of {budget.cells:,}: group by fewer or coarser "
                "items"
            )
    if terms.get("level") != "aggregate" and dataset_rows and budget.rows is not None:
        datasets = {str(i).split(".")[0] for i in terms.get("items") or []}
        rows = sum(dataset_rows.get(d, 0) for d in datasets)
        if rows > budget.rows:
            out.append(
                f"the release could hold up to {rows:,} rows, over the "
                f"budget of {budget.rows:,}: narrow the population or "
                "datasets"
            )
    return out


def store_rows(store_path: Any) -> dict[str, int]:
    """Rows of each dataset in the store now (none when there is no store yet, or
    it is busy): what a record-level release could hold at most."""
    import duckdb

    from pupilshare.store import Store

    try:
        store = Store(store_path, read_only=True)
    except (duckdb.Error, OSError):
        return {}
    with store:
        out = {}
        for ds in catalogue.DATASETS.values():
            if store.exists(ds.table):
                out[ds.name] = int(store.one(f'SELECT count(*) FROM "{ds.table}"'))
        return out


def limits_for(home: Any) -> tuple[Budget, dict[str, int]]:
    """The service's limits and the store's row counts, for a submission."""
    rows = store_rows(home.store_path) if home.store_path.exists() else {}
    return service(home.settings("release")), rows


@contextmanager
def enforced(con: Any, budget: Budget, what: str) -> Iterator[None]:
    """Run the engine under the memory limit and stop it at the time limit; either
    becomes ``Blocked`` naming the budget (nothing is delivered)."""
    import duckdb

    old = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    if budget.memory_mb:
        con.execute(f"SET memory_limit = '{int(budget.memory_mb)}MB'")
    timer = threading.Timer(budget.seconds, con.interrupt) if budget.seconds else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield
    except duckdb.InterruptException:
        raise Blocked(
            f"{what} stopped: over its time budget of "
            f"{budget.seconds:,} seconds; nothing was delivered"
        ) from None
    except duckdb.OutOfMemoryException:
        raise Blocked(
            f"{what} stopped: over its memory budget of "
            f"{budget.memory_mb:,} MB; nothing was delivered"
        ) from None
    finally:
        if timer is not None:
            timer.cancel()
        con.execute(f"SET memory_limit = '{old}'")
