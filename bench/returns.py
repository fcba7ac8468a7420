"""Benchmark: what issue 11's safety costs collection, as ratios in one run.

    PYTHONPATH=src python bench/returns.py [--rows 1000000] [--repeat 2]

On one valid census return of ``--rows`` rows (``synth.valid_returns``), times:
(a) the first load into a fresh store (the baseline);
(b) the same return sent again corrected (one name changed): it loads and replaces
    the first version, moving every earlier row to history (``collect/returns.py``);
(c) the return with CR-only line ends, rewritten to LF outside quotes before the
    engine reads it (``collect/lineends.py``), into a fresh store.
Prints each as a ratio to (a), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pupilshare import catalogue
from pupilshare.collect import Collector
from pupilshare.config import Home
from pupilshare.store import Store
from pupilshare.synth.valid_returns import write_sample

CENSUS = catalogue.dataset("census")


def collect(home: Home, path: Path) -> float:
    with Store.open(home) as store:
        started = time.perf_counter()
        c = Collector(store, home, label="bench")
        out = c.collect(CENSUS, path)
        c.finish()
        took = time.perf_counter() - started
    assert out.status == "loaded", out
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        first = root / "v1.csv"
        with Store() as s:
            write_sample(s, CENSUS, first, args.rows)
        data = first.read_bytes()
        lines = data.split(b"\n")
        cols = lines[1].split(b",")
        cols[CENSUS.columns.index("forename")] = b"Corrected"
        lines[1] = b",".join(cols)
        second = root / "v2.csv"
        second.write_bytes(b"\n".join(lines))
        cr = root / "cr.csv"
        cr.write_bytes(data.replace(b"\n", b"\r"))
        best: dict[str, float] = {}
        for i in range(args.repeat):
            home = Home(root / f"h{i}").ensure()
            timings = {"first": collect(home, first)}
            timings["corrected"] = collect(home, second)
            with Store.open(home, read_only=True) as s:
                assert s.one("SELECT count(*) FROM ds_census") == args.rows
                assert s.one("SELECT count(*) FROM history_census") == args.rows
            timings["cr_only"] = collect(Home(root / f"c{i}").ensure(), cr)
            for k, v in timings.items():
                best[k] = min(best.get(k, v), v)
    base = best["first"]
    print(f"{args.rows:,} census rows, best of {args.repeat}:")
    print(f"  first load             {base:7.2f} s  1.00x")
    shown = (("corrected", "corrected (replaces)"), ("cr_only", "CR-only line ends"))
    for k, label in shown:
        print(f"  {label:22} {best[k]:7.2f} s  {best[k] / base:.2f}x")


if __name__ == "__main__":
    main()
