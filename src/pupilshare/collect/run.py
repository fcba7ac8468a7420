"""Collecting files with a progress bar: a list of one dataset's files (the
``collect`` command), or every file of a synthetic nation (the demo)."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pupilshare import catalogue
from pupilshare.collect.load import Collector, RunResult
from pupilshare.collect.returns import Withdrawal, withdraw
from pupilshare.config import Home
from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.store import Store


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]collect[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    )


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a return, or None when it can."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except PermissionError:
        return "permission denied: cannot look at this path"
    except OSError as e:
        return f"cannot look at this path ({e.strerror or 'operating system error'})"
    if stat.S_ISDIR(mode):
        return "a folder, not a file: name the CSV files inside it"
    if not stat.S_ISREG(mode):
        what = "a pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
        return f"{what}, not a regular file: save the return as a file first"
    if not os.access(path, os.R_OK):
        return "permission denied: this user cannot read the file"
    return None


def collect_files(
    home: Home, dataset: str, paths: Sequence[Path], console: Console | None = None
) -> RunResult:
    """Collect ``paths`` as ``dataset`` into the home's store; never raises for bad
    files (the caller decides), only for an unknown dataset or a missing file."""
    try:
        ds = catalogue.dataset(dataset)
    except KeyError as e:
        raise InvalidInput(str(e.args[0])) from None
    if not ds.collected:
        raise InvalidInput(f"dataset {dataset!r} is derived, not collected from files")
    bad = [f"{p}:0::{why}" for p in paths if (why := not_a_file(Path(p)))]
    if bad:
        raise InvalidInput(
            f"{len(bad)} of {len(paths)} paths cannot be collected (nothing was "
            "loaded): name readable CSV files",
            bad,
        )
    try:
        store = Store.open(home)
    except duckdb.IOException as e:  # another process holds the store's write lock
        raise Conflict(f"the store {home.store_path} is in use: {e}") from None
    with store:
        collector = Collector(store, home, label=ds.name)
        bar = progress_bar(console or Console(stderr=True))
        with bar:
            task = bar.add_task(ds.name, total=len(paths))
            collector.collect_all(ds, paths, on_file=lambda _: bar.advance(task))
        return collector.finish()


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


def collect_nation(
    home: Home, nation: Path, console: Console, label: str = "demo"
) -> RunResult:
    """Collect every file of a synthetic nation; rejected files are in the result
    (and its report), never raised."""
    files = nation_files(nation)
    with Store.open(home) as store:
        collector = Collector(store, home, label=label)
        with progress_bar(console) as bar:
            task = bar.add_task("nation", total=len(files))
            for ds, group in groupby(files, key=lambda f: f[0]):
                collector.collect_all(
                    ds,
                    [(p, str(p.relative_to(nation))) for _, p in group],
                    on_file=lambda _: bar.advance(task),
                )
        return collector.finish()


def withdraw_collection(home: Home, collection_id: int, reason: str) -> Withdrawal:
    """Withdraw a collection's current returns (``returns.withdraw``)."""
    if not home.store_path.exists():
        raise NotFound(f"no collection {collection_id}: nothing is collected yet")
    try:
        store = Store.open(home)
    except duckdb.IOException as e:
        raise Conflict(f"the store {home.store_path} is in use: {e}") from None
    with store:
        return withdraw(store, collection_id, reason)
