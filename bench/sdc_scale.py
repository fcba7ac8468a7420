"""Disclosure control at national scale: the inspectorate's school-level table
(schools x key stage x subject x outcome, every margin) for 200,000, 1 M and 10 M
pupils, protected by each method (issue 17 point 3).

    flock /work/bench.lock .venv/bin/python bench/sdc_scale.py [--pupils 200000 ...]

The records are made in DuckDB SQL (about 500 pupils a school, four in five schools
primary with key stages 1 and 2, the rest secondary with key stage 3, the subjects and
outcomes of ``synth/returns.py`` driven by a pupil's ability), not a whole synthetic
nation. Each size and method runs in its own process, so its peak memory is its own.

- ``suppression``: the builder's SQL (``aggregate.cells_sql``), primary and hypercube
  secondary suppression (``sdc.protect``), then the output check's interval audit
  (``audit.witnessed`` + ``audit.audit`` with the check's own needs);
- ``cell_key``: record keys (AES, ``cellkey.record_keys``), the cell keys in SQL
  (``cellkey.cells_sql``) and the perturbation.

Information loss: the share of cells changed (suppressed or perturbed) and the mean
absolute change over all cells (a suppressed cell counts its whole value). Ratios: the
time and cells against the first size in the same run (near 1 per size step: linear).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from pupilshare.plan import Sdc, TableSpec
from pupilshare.release import aggregate, audit, cellkey, sdc
from pupilshare.store import Store

SPEC = TableSpec(
    "outcomes_by_school",
    "ks_results",
    ("laestab", "key_stage", "subject"),
    ("outcome",),
)
SUBJECTS = {
    "1": ("READ", "WRIT", "MATH", "SCI"),
    "2": ("READ", "WRIT", "MATH", "GPS", "SCI"),
    "3": ("ENG", "MATH", "SCI"),
}


def records_sql(pupils: int) -> list[str]:
    """The records: one row per pupil, key stage and subject assessed."""
    schools = max(pupils // 500, 2)
    pairs = [(k, s) for k, ss in SUBJECTS.items() for s in ss]
    subjects = " UNION ALL ".join(
        f"SELECT '{k}' AS ks, '{s}' AS subject" for k, s in pairs
    )
    score = "(0.8 * ability + 0.6 * (random() + random() + random() - 1.5) * 2)"
    outcome = f"""CASE
      WHEN random() < 0.01 THEN 'A'
      WHEN ks = '3' THEN
        'L' || least(8, greatest(1, round(5.6 + 1.2 * {score})))::INT
      WHEN subject = 'SCI' THEN CASE WHEN {score} > -1.0 THEN 'EXS' ELSE 'HNM' END
      WHEN ks = '2' AND subject <> 'WRIT' THEN
        CASE WHEN {score} > -0.5 THEN 'AS' ELSE 'NS' END
      WHEN {score} > 1.0 THEN 'GDS' WHEN {score} > -0.7 THEN 'EXS'
      WHEN {score} > -1.7 OR ks = '2' THEN 'WTS' ELSE 'HNM' END"""
    return [
        "SELECT setseed(0.17)",
        f"""CREATE OR REPLACE TABLE pupil AS SELECT i AS __pupil_key,
            floor({schools} * pow(random(), 1.15))::BIGINT AS school,
            (random() + random() + random() - 1.5) * 2 AS ability, random() AS u
            FROM range({pupils}) t(i)""",
        f"""CREATE OR REPLACE TABLE recs AS SELECT __pupil_key,
            CAST(2000000 + school AS VARCHAR) AS laestab, ks AS key_stage, subject,
            {outcome} AS outcome
            FROM (SELECT p.*, s.ks, s.subject FROM pupil p JOIN ({subjects}) s
              ON s.ks = CASE
              WHEN p.school % 5 = 0 THEN CASE WHEN p.u < 0.5 THEN '3' END
              WHEN p.u < 0.28 THEN '1' WHEN p.u < 0.56 THEN '2' END)""",
    ]


def run(pupils: int, method: str) -> dict:
    store = Store()
    t0 = time.perf_counter()
    for sql in records_sql(pupils):
        store.rows(sql)
    rows = store.one("SELECT count(*) FROM recs")
    made = time.perf_counter() - t0
    rules = Sdc(method=method)
    t0 = time.perf_counter()
    out: dict = {
        "pupils": pupils,
        "method": method,
        "records": rows,
        "generate_s": round(made, 2),
    }
    if method == "cell_key":
        keys = store.arrow("SELECT __pupil_key AS pupil_key FROM pupil")
        rk = cellkey.record_keys(b"\x07" * 32, keys.column("pupil_key").to_numpy())
        store.register(cellkey.RECORD_KEYS, keys.append_column("rk", [rk]))
        cube = aggregate.perturbed_table(store, SPEC, "recs", rules)
        build = time.perf_counter() - t0
        true = cube.contributors
        changed = (cube.values != true) | cube.suppressed
        out.update(
            cells=int(true.size),
            changed=int(changed.sum()),
            mean_abs_change=float(
                np.where(cube.suppressed, true, np.abs(cube.values - true)).mean()
            ),
            build_s=round(build, 2),
            audit_s=0.0,
        )
    else:
        cells = store.arrow(aggregate.cells_sql(SPEC, "recs", 2))
        cube = aggregate.cube_from_cells(SPEC, cells, 2)
        sdc.protect(cube, rules)
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        short = _audit(cube, rules)
        out.update(
            cells=int(cube.values.size),
            changed=int(cube.suppressed.sum()),
            primary=int(np.isin(cube.status, (sdc.PRIMARY, sdc.GROUP)).sum()),
            mean_abs_change=float(np.where(cube.suppressed, cube.values, 0).mean()),
            unprotected=int(short),
            withheld=cube.withheld,
            build_s=round(build, 2),
            audit_s=round(time.perf_counter() - t1, 2),
        )
    out["total_s"] = round(out["build_s"] + out["audit_s"], 2)
    out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def _audit(cube: sdc.Cube, rules: Sdc) -> int:
    """The output check's audit on the builder's table: its own needs, the builder's
    cubes verified as witnesses, LPs for anything they leave open."""
    m = cube.suppressed
    a, b, x0 = audit.line_equations(cube.values, m)
    x = cube.values[m]
    sensitive = (x > 0) & (x < rules.threshold)
    need = audit.Need(
        np.where(sensitive, float(rules.min_interval), 1.0),
        np.where(sensitive, 1.0, 0.0),
        np.where(sensitive, np.minimum(x, 1.0), 0.0),
    )
    column = np.full(m.size, -1, np.int64)
    column[np.flatnonzero(m)] = np.arange(int(m.sum()))
    corners = column[cube.cubes.corners]
    rise, fall = audit.witnessed(a, x0, corners, cube.cubes.signs)
    return int(audit.audit(a, b, x0, need, rise, fall).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--pupils", type=int, nargs="*", default=[200_000, 1_000_000, 10_000_000]
    )
    ap.add_argument("--methods", nargs="*", default=["suppression", "cell_key"])
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run(int(args.one[0]), args.one[1])))
        return
    print(
        "| pupils | method | records | cells | changed | share | mean abs change "
        "| build s | audit s | total s | x time | x cells | peak MB |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base: dict[str, dict] = {}
    for n in args.pupils:
        for method in args.methods:
            cmd = [sys.executable, __file__, "--one", str(n), method]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            first = base.setdefault(method, r)
            ratio_t = r["total_s"] / max(first["total_s"], 1e-9)
            ratio_c = r["cells"] / first["cells"]
            print(
                f"| {n:,} | {method} | {r['records']:,} | {r['cells']:,} | "
                f"{r['changed']:,} | {r['changed'] / r['cells']:.1%} | "
                f"{r['mean_abs_change']:.2f} | {r['build_s']} | {r['audit_s']} | "
                f"{r['total_s']} | {ratio_t:.1f} | {ratio_c:.1f} | {r['peak_mb']} |",
                flush=True,
            )
            if r.get("unprotected") or r.get("withheld"):
                print(
                    f"  ! {r.get('unprotected')} cell(s) unprotected, "
                    f"withheld: {r.get('withheld')}"
                )


if __name__ == "__main__":
    main()
