"""Bench: ``pupilshare link`` on DuckDB and on Spark (local mode), the same files.

Two files of people from ``linkeval``'s generator (one true match per record, the
``base`` error rates), linked by ``pupilshare --engine E link`` as a user runs it (a
fresh process per engine, Spark's session start included); wall time, the peak
resident memory of the process with its children (Spark's JVM on Spark) and
whether the two pairs files are the same bytes.

    PYTHONPATH=src python bench/linkengines.py [--people 20000] [--seed 1]
        [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from linkeval import generate, read_pairs, score  # noqa: E402


def tree_rss(root: int) -> int:
    """Resident memory (KB) of ``root`` and every process under it (Spark's JVM is
    a child of the Python process), from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(proc.name)] = int(fields["PPid"])
        rss[int(proc.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, grown = {root}, True
    while grown:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        grown = bool(more)
        tree |= more
    return sum(rss.get(p, 0) for p in tree)


def run(engine: str, a: Path, b: Path, out: Path, home: Path) -> tuple[float, float]:
    """(wall seconds, peak resident MB of the process and its children) of one
    link, the memory sampled every half second."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pupilshare", "--home", str(home), "--engine", engine]
        + ["link", str(a), str(b), "--out", str(out), "--force"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"{engine}: link failed ({proc.returncode})")
    return seconds, peak / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep the files and pairs here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = args.keep or Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        a, b = generate(d, args.people, "base", args.seed)
        truth = read_pairs(d / "truth.csv")
        digests = {}
        for engine in ("duckdb", "spark"):
            out = d / f"pairs-{engine}.csv"
            seconds, peak = run(engine, a, b, out, Path(tmp) / "home")
            digests[engine] = hashlib.sha256(out.read_bytes()).hexdigest()
            s = score(read_pairs(out), truth)
            print(
                f"| {engine} | {args.people:,} x {args.people:,} | {s['pairs']:,} | "
                f"{s['f1']:.4f} | {seconds:.1f} s | {peak:,.0f} MB |",
                flush=True,
            )
        same = digests["duckdb"] == digests["spark"]
        print(f"pairs files identical: {same} (sha256 {digests['duckdb'][:16]})")
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
