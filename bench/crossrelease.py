"""Disclosure control across releases at the demo's size: the key stage trend
statistics (``dfe-ks-trends``, 12 tables) released after the inspectorate's school
table (``ofsted-performance``), with and without the linked protection and audit
(issue 10 point 5).

    pupilshare demo --pupils 20000 --no-serve --home H   # once, to make H
    flock /work/bench.lock nice -n 5 .venv/bin/python bench/crossrelease.py H
    .venv/bin/python bench/crossrelease.py --audit-only H   # H: both released
    .venv/bin/python bench/crossrelease.py --no-intruder H  # release times only

The home is copied twice, the trend release's recorded cells dropped from each copy,
and the release run in each: ``before`` with the linked step switched off (the
builder's ``crossrelease.protect`` and the check's ``linked_reasons`` and
``release_linked_reasons`` as they were before the linked step: nothing), ``after``
as shipped. For each: the release time, the trend tables' suppressed cells, and
how many suppressed cells of all the published count tables of key stage results
an intruder pins (feasible interval under 1) or narrows below ``min_interval``
(small counts), by two LPs per cell over the linked system of the school table and
every trend table.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from scipy.optimize import linprog

from pupilshare.config import Home
from pupilshare.plan import Sdc
from pupilshare.release import (
    audit,
    crossrelease,
    linked,
    release_agreement,
    tablecheck,
)
from pupilshare.store import Store

AGREEMENT = "dfe-ks-trends"


def _copy(home: Path, into: Path) -> Home:
    shutil.copytree(home, into)
    with Store.open(Home.resolve(into)) as store:
        store.rows(
            "DELETE FROM published_cells WHERE starts_with(release_id, ?)",
            [AGREEMENT],
        )
    return Home.resolve(into)


def _intruder(home: Home) -> dict:
    """Every suppressed cell of the school table and the trend tables: its feasible
    interval given all of them (two LPs per cell)."""
    with Store.open(home, read_only=True) as store:
        tables = linked.earlier_tables(store, "ks_results:count")
    school = next(t for t in tables if t.name.startswith("outcomes_by_school"))
    j = linked.joint(school, [t for t in tables if t is not school])
    a, b = j.a.tocsc(), j.b
    rules = Sdc()
    pinned = narrow = 0
    for k in range(a.shape[1]):
        c = np.zeros(a.shape[1])
        c[k] = 1
        lo = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        width = (-hi.fun if hi.status == 0 else np.inf) - lo.fun
        x = j.x0[k]
        if width < 1 - 1e-6:
            pinned += 1
        elif 0 < x < rules.threshold and width < rules.min_interval - 1e-6:
            narrow += 1
    return {
        "cells_in_linked_groups": int(a.shape[1]),
        "pinned": pinned,
        "narrowed": narrow,
    }


def _run(home: Home, out: Path) -> dict:
    start = time.perf_counter()
    manifest = release_agreement(home, AGREEMENT, out)
    took = time.perf_counter() - start
    suppressed = 0
    for f in manifest.files:
        if f.name.endswith(".parquet"):
            t = pq.read_table(out / f.name)
            suppressed += t.column("symbol").to_pylist().count("c")
    return {"release_s": round(took, 2), "trend_cells_suppressed": suppressed}


def audit_times(home_dir: str) -> None:
    """The check's cross-release audit alone, on a home where both agreements are
    released: each trend table in one system with the school table and the other
    trend tables (``linked.joint`` + ``audit.audit``)."""
    with Store.open(Home.resolve(home_dir), read_only=True) as store:
        start = time.perf_counter()
        tables = linked.earlier_tables(store, "ks_results:count")
        load = time.perf_counter() - start
    rules = Sdc()
    out, short_all = [], 0
    for t in tables:
        if t.name.startswith("outcomes_by_school"):
            continue
        start = time.perf_counter()
        j = linked.joint(t, [e for e in tables if e is not t])
        w, u, d = linked.needs(j, rules.threshold, rules.min_interval, True)
        short = audit.audit(j.a, j.b, j.x0, audit.Need(w, u, d), j.rise, j.fall)
        took = time.perf_counter() - start
        short_all += int(short.sum())
        out.append(
            {
                "table": t.name,
                "equations": j.a.shape[0],
                "cells": j.a.shape[1],
                "couplings": j.couplings,
                "s": round(took, 2),
            }
        )
    total = round(sum(r["s"] for r in out), 1)
    print(
        json.dumps(
            {
                "rebuild_s": round(load, 2),
                "tables": out,
                "total_s": total,
                "short": short_all,
            },
            indent=2,
        )
    )


def main(home_dir: str, intruder: bool = True) -> None:
    home = Path(home_dir)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("before", "after"):
            copy = _copy(home, Path(tmp) / label)
            saved = (
                crossrelease.protect,
                tablecheck.linked_reasons,
                tablecheck.release_linked_reasons,
            )
            if label == "before":
                crossrelease.protect = lambda *a, **k: 0
                tablecheck.linked_reasons = lambda *a, **k: []
                tablecheck.release_linked_reasons = lambda *a, **k: []
            try:
                results[label] = _run(copy, Path(tmp) / f"{label}-out")
            finally:
                (
                    crossrelease.protect,
                    tablecheck.linked_reasons,
                    tablecheck.release_linked_reasons,
                ) = saved
            if intruder:
                start = time.perf_counter()
                results[label] |= _intruder(copy)
                results[label]["intruder_s"] = round(time.perf_counter() - start, 1)
    results["ratio_release_after_before"] = round(
        results["after"]["release_s"] / results["before"]["release_s"], 2
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--audit-only"]:
        audit_times(sys.argv[2])
    elif sys.argv[1:2] == ["--no-intruder"]:  # release times only
        main(sys.argv[2], intruder=False)
    else:
        main(sys.argv[1])
