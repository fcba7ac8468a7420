"""The demo's collect step: reference files first, then every pupil dataset."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from pupilshare import catalogue
from pupilshare.collect.load import Collector
from pupilshare.collect.run import progress_bar
from pupilshare.store import Store

if TYPE_CHECKING:
    from pupilshare.demo import DemoRun


def nation_files(nation: Path) -> list[tuple[catalogue.Dataset, Path]]:
    """Every file of a synthetic nation, reference datasets first, in a stable order."""
    out = [
        (catalogue.dataset(n), nation / "reference" / f"{n}.csv")
        for n in ("postcodes", "schools")
    ]
    out = [(d, p) for d, p in out if p.is_file()]
    for ds in catalogue.pupil_datasets():
        if ds.collected:
            out += [(ds, p) for p in sorted((nation / ds.name).glob("*.csv"))]
    return out


def demo_step(run: DemoRun) -> str:
    """Collect the nation; rejected files are reported, never fatal to the demo."""
    files = nation_files(run.nation_dir)
    with Store.open(run.home) as store:
        collector = Collector(store, run.home, label="demo")
        with progress_bar(run.console) as bar:
            task = bar.add_task("nation", total=len(files))
            for ds, group in groupby(files, key=lambda f: f[0]):
                collector.collect_all(
                    ds,
                    [(p, str(p.relative_to(run.nation_dir))) for _, p in group],
                    on_file=lambda _: bar.advance(task),
                )
        result = collector.finish()
    loaded, rejected = result.of("loaded"), result.of("rejected")
    run.facts["collect"] = {
        "loaded": len(loaded),
        "rejected": len(rejected),
        "rows": result.rows,
        "report": str(result.report_path),
    }
    summary = (
        f"loaded {len(loaded):,} files ({result.rows:,} rows, "
        f"{sum(o.warnings for o in loaded):,} warnings)"
    )
    if rejected:
        where = (
            result.report_path.relative_to(run.home.root) if result.report_path else ""
        )
        summary += f", rejected {len(rejected):,} files (see {where})"
    return summary
