"""The exact audit of a cycle of linked tables (``release/finest.py``): how its time
grows with the finest common cells, to choose ``finest.MAX_CELLS``.

    PYTHONPATH=src python bench/finest.py [--sizes 500 1000 2000 4000 8000]

Three tables over the same pupils cross three items in a cycle (school x sex,
school x ethnic group, sex x ethnic group); schools and ethnic groups grow so that
the finest cells (school x sex x ethnic group, with the synthetic categories)
reach each size. About a third of each table's cells are small and suppressed, as
after secondary suppression. Times: building the linked system (``linked.joint``:
the finest equations and one LP for a solution) and auditing every suppressed cell
(``linked.short``), best of ``--repeat``, wall and process CPU.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pupilshare.release import audit, finest, linked
from pupilshare.release.sdc import with_margins


def tables(cells: int, seed: int = 0) -> list[linked.Table]:
    """Three cyclic tables whose finest cells are about ``cells``."""
    rng = np.random.default_rng(seed)
    groups = max(2, int(np.sqrt(cells / 6)))
    schools = max(2, cells // (3 * (groups + 1)) - 3)
    y = rng.choice([0, 0, 1, 2, 3, 5, 8, 13], size=(schools, 2, groups)).astype(float)
    names = tuple(f"807{i:04d}" for i in range(schools))
    sexes, eths = ("F", "M"), tuple(f"E{i:02d}" for i in range(groups))

    def table(name, dims, labels, values):
        v = with_margins(values)
        hidden = (v > 0) & (v < 10) | (rng.random(v.shape) < 0.1)
        return linked.Table(name, "census:count", {}, dims, labels, v, hidden)

    return [
        table("school_by_sex", ("laestab", "sex"), (names, sexes), y.sum(2)),
        table("school_by_eth", ("ethnic_group", "laestab"), (eths, names), y.sum(1).T),
        table("sex_by_eth", ("ethnic_group", "sex"), (eths, sexes), y.sum(0).T),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    keep = finest.MAX_CELLS
    finest.MAX_CELLS = 10**9  # measure beyond the bound too
    try:
        for n in args.sizes:
            ts = tables(n)
            best = [np.inf] * 4
            for _ in range(args.repeat):
                w, c = time.perf_counter(), time.process_time()
                j = linked.joint(ts[2], ts[:2])
                w1, c1 = time.perf_counter(), time.process_time()
                need = audit.Need(*linked.needs(j, 10, 3, True))
                short = linked.short(j, need)
                w2, c2 = time.perf_counter(), time.process_time()
                got = [w1 - w, c1 - c, w2 - w1, c2 - c1]
                best = [min(a, b) for a, b in zip(best, got, strict=True)]
            cells = int((j.owner < 0).sum())
            hidden = int((j.owner >= 0).sum())
            print(
                f"finest cells {cells:6d}  suppressed {hidden:5d}"
                f"  short {int(short.sum()):4d}"
                f"  joint {best[0]:6.2f} s (cpu {best[1]:6.2f})"
                f"  audit {best[2]:6.2f} s (cpu {best[3]:6.2f})",
                flush=True,
            )
    finally:
        finest.MAX_CELLS = keep


if __name__ == "__main__":
    main()
