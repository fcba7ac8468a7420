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

from pupilshare.plan import ReleasePlan, Sdc, TableSpec
from pupilshare.release import aggregate, cellkey, check, sdc, tablecheck
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


PLAN = dict(
    agreement_id="bench-sdc-scale",
    recipient="bench",
    gateway="bench",
    purpose="bench",
    level="aggregate",
    items=tuple(f"ks_results.{c}" for c in ("laestab", "key_stage", "subject")),
    tables=(SPEC,),
)


def run(pupils: int, method: str) -> dict:
    store = Store()
    t0 = time.perf_counter()
    for sql in records_sql(pupils):
        store.rows(sql)
    rows = store.one("SELECT count(*) FROM recs")
    out: dict = {
        "pupils": pupils,
        "method": method,
        "records": rows,
        "generate_s": round(time.perf_counter() - t0, 2),
    }
    # The baseline: the same rows counted by a plain GROUP BY (finest cells, no
    # margins, no disclosure control), into Arrow.
    dims = ", ".join([*SPEC.rows, *SPEC.columns])
    t0 = time.perf_counter()
    store.arrow(f"SELECT {dims}, count(*) AS n FROM recs GROUP BY ALL")
    out["group_by_s"] = round(time.perf_counter() - t0, 2)
    rules = Sdc(method=method)
    plan = ReleasePlan(**PLAN, sdc=rules)
    cpu0 = _cpu()
    t0 = time.perf_counter()
    if method == "cell_key":  # the builder registers the index's record keys
        keys = store.arrow("SELECT __pupil_key AS pupil_key FROM pupil")
        rk = cellkey.record_keys(b"\x07" * 32, keys.column("pupil_key").to_numpy())
        store.register(cellkey.RECORD_KEYS, keys.append_column("rk", [rk]))
    cube = aggregate.build_table(store, SPEC, "recs", rules)
    table = aggregate.table_arrow(SPEC, cube, rules)
    names = aggregate.grid_names(SPEC, cube)  # the record of published cells
    witness = tablecheck.Witness(cube.labels, cube.cubes.corners, cube.cubes.signs)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    reasons = check.check_table(store, plan, SPEC.name, table, "recs", witness)
    out["check_s"] = round(time.perf_counter() - t1, 2)
    true = cube.contributors if cube.perturbed else cube.values
    hidden = cube.suppressed
    shown_v = np.where(hidden, 0.0, cube.values)
    out.update(
        cells=int(true.size),
        named=len(names),
        changed=int(((shown_v != true) | hidden).sum()),
        primary=int(np.isin(cube.status, (sdc.PRIMARY, sdc.GROUP)).sum()),
        # A suppressed cell counts its whole value.
        mean_abs_change=float(np.abs(shown_v - true).mean()),
        refused=reasons,
        withheld=cube.withheld,
        build_s=round(build, 2),
    )
    out["total_s"] = round(out["build_s"] + out["check_s"], 2)
    out["cpu_s"] = round(_cpu() - cpu0, 2)
    out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def _cpu() -> float:
    """CPU seconds of this process, every thread (DuckDB's too): the work done,
    whatever else the shared machine runs meanwhile."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


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
        "| GROUP BY s | build s | check s | total s | CPU s | x GROUP BY | x time "
        "| x cells | peak MB |"
    )
    print("|---:|---|" + "---:|" * 14)
    base: dict[str, dict] = {}
    for n in args.pupils:
        for method in args.methods:
            cmd = [sys.executable, __file__, "--one", str(n), method]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                print(f"| {n:,} | {method} | failed: {done.stderr.strip()[-300:]} |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            first = base.setdefault(method, r)
            ratio_t = r["total_s"] / max(first["total_s"], 1e-9)
            ratio_c = r["cells"] / first["cells"]
            ratio_g = r["total_s"] / max(r["group_by_s"], 1e-9)
            print(
                f"| {n:,} | {method} | {r['records']:,} | {r['cells']:,} | "
                f"{r['changed']:,} | {r['changed'] / r['cells']:.1%} | "
                f"{r['mean_abs_change']:.2f} | {r['group_by_s']} | {r['build_s']} | "
                f"{r['check_s']} | {r['total_s']} | {r['cpu_s']} | {ratio_g:.1f} | "
                f"{ratio_t:.1f} | "
                f"{ratio_c:.1f} | {r['peak_mb']} |",
                flush=True,
            )
            if r["refused"] or r["withheld"]:
                print(f"  ! refused: {r['refused']}; withheld: {r['withheld']}")


if __name__ == "__main__":
    main()
