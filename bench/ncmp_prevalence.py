"""The health department's NCMP prevalence release (``dh-ncmp-prevalence``: by area
and year, by school year, and "of which severely obese") on a demo home, before and
after its three tables were protected together as one cover table (``cover``).

    pupilshare demo --pupils 20000 --no-serve --home H   # once, to make H
    flock /work/bench.lock nice -n 5 .venv/bin/python bench/ncmp_prevalence.py H
    ... bench/ncmp_prevalence.py --only after H   # one run

The home is copied twice under ``--tmp`` (default: beside it), the release's
recorded cells dropped from each copy, and the release run in each: ``before``
with the cover switched off (each table protected on its own, then with the others
until nothing changes: the code before this change), ``after`` as shipped. For
each: the release time (build, the output check and delivery), and per table its
cells, how many are suppressed (``c``) and the share; for ``after`` also how many
suppressed cells an intruder holding the three tables pins (feasible interval under
1) or narrows below ``min_interval`` (small counts), by two LPs per cell over their
linked system.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from scipy.optimize import linprog

from pupilshare.config import Home
from pupilshare.plan import Sdc
from pupilshare.release import cover, linked, release_agreement
from pupilshare.store import Store

AGREEMENT = "dh-ncmp-prevalence"


def _copy(home: Path, into: Path) -> Home:
    shutil.copytree(home, into)
    with Store.open(Home.resolve(into)) as store:
        store.rows(
            "DELETE FROM published_cells WHERE starts_with(release_id, ?)",
            [AGREEMENT],
        )
    return Home.resolve(into)


def _run(home: Home, out: Path) -> dict:
    start = time.perf_counter()
    manifest = release_agreement(home, AGREEMENT, out)
    took = time.perf_counter() - start
    tables = {}
    for f in manifest.files:
        if f.name.endswith(".parquet"):
            symbol = pq.read_table(out / f.name).column("symbol").to_pylist()
            n, c = len(symbol), symbol.count("c")
            tables[f.name[: -len(".parquet")]] = {
                "cells": n,
                "suppressed": c,
                "share": round(c / n, 3) if n else 0.0,
            }
    return {"release_s": round(took, 2), "tables": tables}


def _intruder(home: Home) -> dict:
    """Every suppressed cell of the release's tables: its feasible interval given
    all of them together (two LPs per cell over their linked system)."""
    with Store.open(home, read_only=True) as store:
        tables = linked.earlier_tables(store, "ncmp:count")
    j = linked.joint(tables[0], tables[1:])
    if j is None:
        return {"cells_in_linked_groups": 0, "pinned": 0, "narrowed": 0}
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


def main(
    home_dir: str, tmp_dir: str | None, intruder: bool, labels: tuple[str, ...]
) -> None:
    home = Path(home_dir)
    results: dict = {}
    with tempfile.TemporaryDirectory(dir=tmp_dir or home.parent) as tmp:
        for label in labels:
            copy = _copy(home, Path(tmp) / label)
            saved = cover.groups
            if label == "before":
                cover.groups = lambda *a, **k: []
            try:
                results[label] = _run(copy, Path(tmp) / f"{label}-out")
            finally:
                cover.groups = saved
            if intruder and label == "after":
                start = time.perf_counter()
                results[label] |= _intruder(copy)
                results[label]["intruder_s"] = round(time.perf_counter() - start, 1)
            shutil.rmtree(Path(tmp) / label)
    if len(results) == 2:
        results["ratio_release_after_before"] = round(
            results["after"]["release_s"] / results["before"]["release_s"], 3
        )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("home")
    p.add_argument("--tmp", help="where the copies go (default: beside the home)")
    p.add_argument("--no-intruder", action="store_true")
    p.add_argument(
        "--only",
        choices=("before", "after"),
        help="one run (the before run takes minutes at 200,000 pupils)",
    )
    args = p.parse_args()
    labels = (args.only,) if args.only else ("before", "after")
    main(args.home, args.tmp, not args.no_intruder, labels)
