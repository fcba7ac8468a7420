"""The main job: a synthetic nation through every step of the flow.

Each step is one line in ``STEPS``: a title and a function here that takes the
``DemoRun``, calls one area's public surface and returns a one-line summary. A later
step is added by adding a function and a line, never by rewriting the demo.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pupilshare import collect, governance, lrs, match, release, rights, synth
from pupilshare.config import Home
from pupilshare.errors import Blocked, Conflict, PupilshareError, SampleOnly
from pupilshare.store import Store

MARKER = ".pupilshare-demo"


@dataclass
class DemoRun:
    home: Home
    pupils: int
    seed: int
    console: Console
    facts: dict[str, Any] = field(default_factory=dict)  # shared between steps

    @property
    def nation_dir(self) -> Path:
        return self.home.root / "nation"


def synthesise_step(run: DemoRun) -> str:
    """A nation of ``run.pupils`` in ``run.nation_dir``."""
    with Progress(
        TextColumn("  synthesise {task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=run.console,
        transient=True,
    ) as bar:
        task = bar.add_task("places", total=synth.STAGES)

        def on(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        manifest = synth.synthesise(run.nation_dir, run.pupils, run.seed, progress=on)
    run.facts["nation_dir"] = str(run.nation_dir)
    run.facts["nation_manifest"] = str(run.nation_dir / "manifest.json")
    run.facts["faulty_files"] = list(manifest["faulty"])
    n_files = len(manifest["files"])
    rows = sum(d["rows"] for d in manifest["datasets"].values())
    return (
        f"{run.pupils:,} pupils: {n_files:,} files, {rows:,} rows "
        f"({len(manifest['faulty'])} faulty on purpose) in {run.nation_dir}"
    )


def collect_step(run: DemoRun) -> str:
    """Collect the nation; rejected files are reported, never fatal to the demo."""
    result = collect.collect_nation(run.home, run.nation_dir, run.console)
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


def match_step(run: DemoRun) -> str:
    """Match the nation's collected records; accuracy against its truth file."""
    with Store.open(run.home) as store:
        r = match.run_match(store, run.home)
        truth = match.find_truth(store, run.home.root)
        acc = match.accuracy(store, truth) if truth else None
    run.facts["match"] = {**r.as_dict(), "accuracy": acc}
    line = (
        f"{r.records:,} records -> {r.pupils:,} pupils; {r.review:,} to review; "
        f"{r.ulns_issued:,} ULNs issued; {r.unusable:,} unusable"
    )
    if acc:
        line += f"; F1 {acc['f1']:.4f} against truth"
    return line


def nation_las(home: Home, n: int = 2) -> list[str]:
    """The nation's ``n`` largest local authorities (by schools), if collected: the
    seeds' two local authorities stand for them."""
    return _first_column(
        home,
        ("ds_schools",),
        "SELECT la_code FROM ds_schools GROUP BY la_code "
        "ORDER BY count(*) DESC, la_code LIMIT ?",
        n,
    )


def nation_schools(home: Home, n: int = 1) -> list[str]:
    """The nation's ``n`` secondary schools with the most census records, if
    collected: the seeds' post-16 college (a lookup agreement's ``records_at``)
    stands for them, as the synthetic nation has no colleges of its own."""
    return _first_column(
        home,
        ("ds_schools", "ds_census"),
        "SELECT s.laestab FROM ds_schools s JOIN ds_census c USING (laestab) "
        "WHERE s.phase <> 'primary' GROUP BY s.laestab "
        "ORDER BY count(*) DESC, s.laestab LIMIT ?",
        n,
    )


def _first_column(home: Home, tables: tuple[str, ...], sql: str, n: int) -> list[str]:
    """The first column of ``sql`` over the home's store ([] before collection)."""
    if not home.store_path.exists():
        return []
    try:
        with Store(home.store_path, read_only=True) as store:
            if not all(store.exists(t) for t in tables):
                return []
            return [r[0] for r in store.rows(sql, [n])]
    except duckdb.Error:
        return []


def agreements_step(run: DemoRun) -> str:
    """The seed agreements submitted, heard by the panel, decided by the demo Chief
    Statistician and made active; one refused submission shown with its reasons."""
    out = governance.load_seeds(
        run.home, la_codes=nation_las(run.home), schools=nation_schools(run.home)
    )
    run.facts["agreements"] = out.active
    run.facts["users"] = out.credentials  # generated; printed when the demo ends
    refused = "; ".join(f"{k}: {len(v)} reasons" for k, v in out.refused.items())
    for key, reasons in out.refused.items():
        run.console.print(f"  refused submission {key}:", highlight=False)
        for r in reasons:
            run.console.print(f"    - {r}", highlight=False, markup=False)
    return (
        f"{len(out.active)} agreements active for {len(out.recipients)} "
        f"recipients; {len(out.refused)} refused submission shown "
        f"({refused})"
    )


def release_step(run: DemoRun) -> str:
    """Release each active agreement into HOME/releases/<id>/ (the department's own
    published statistics too, under their agreement)."""
    delivered: list[str] = []
    blocked: dict[str, str] = {}
    failed: dict[str, str] = {}
    sampled: list[str] = []
    seconds: dict[str, float] = {}
    for agreement_id in list(run.facts.get("agreements") or []):
        out = run.home.releases_dir / agreement_id
        started = time.perf_counter()
        try:
            m = release.release_agreement(run.home, agreement_id, out)
            delivered.append(f"{agreement_id} ({m.level}, {m.row_count:,} rows)")
        except SampleOnly:
            sampled.append(agreement_id)  # drawn by the survey step, not released
        except Blocked as e:
            blocked[agreement_id] = e.errors[0] if e.errors else e.message
        except PupilshareError as e:
            failed[agreement_id] = e.message
        seconds[agreement_id] = time.perf_counter() - started
    for name in delivered:
        took = seconds[name.split(" ")[0]]
        run.console.print(f"  delivered {name} in {took:.1f} s", highlight=False)
    for key in sampled:
        run.console.print(
            f"  {key}: survey contacts leave only as a sample, drawn in the "
            "survey step",
            highlight=False,
        )
    for key, why in {**blocked, **failed}.items():
        run.console.print(
            f"  not delivered {key} ({seconds[key]:.1f} s): {why}", highlight=False
        )
    run.facts["releases"] = delivered
    run.facts["release_seconds"] = seconds  # each release's own time (issue 17)
    levels = Counter(d.split("(")[1].split(",")[0] for d in delivered)
    summary = f"{len(delivered)} releases delivered ({dict(levels)})"
    if blocked:
        first = next(iter(blocked.items()))
        summary += f", {len(blocked)} blocked by the output check "
        summary += f"({first[0]}: {first[1]})"
    if failed:
        summary += f", {len(failed)} not released ({next(iter(failed.values()))})"
    return summary


def register_step(run: DemoRun) -> str:
    """The public register and privacy notice under HOME/register/."""
    out = run.home.root / "register"
    with governance.records(run.home, None) as (session, who):
        paths = governance.publish_register(
            session, who, run.home, out, force=True
        )  # its own home's register
    return f"register and privacy notice written to {paths['register_html'].parent}"


STEPS: list[tuple[str, Callable[[DemoRun], str]]] = [
    ("synthesise", synthesise_step),
    ("collect", collect_step),
    ("match", match_step),
    ("agreements", agreements_step),
    ("opt-outs", rights.optouts_step),
    ("release", release_step),
    ("survey", rights.survey_step),
    ("register", register_step),
    ("learners", lrs.demo_step),
    ("access", rights.sar_step),
    ("ledger", rights.ledger_step),
]


def prepare_home(home: Home) -> None:
    """Start the demo from an empty home; never wipe a home the demo did not make."""
    if home.root.exists() and any(home.root.iterdir()):
        if not (home.root / MARKER).exists():
            raise Conflict(
                f"{home.root} holds data not made by the demo; "
                "give the demo its own --home"
            )
        shutil.rmtree(home.root)
    home.ensure()
    (home.root / MARKER).write_text("made by pupilshare demo; safe to delete\n")


def run_demo(run: DemoRun) -> list[tuple[str, str, float]]:
    prepare_home(run.home)
    done = []
    for title, step in STEPS:
        started = time.perf_counter()
        summary = step(run)
        seconds = time.perf_counter() - started
        run.console.print(
            f"[bold green]{title:>11}[/] {summary} [dim]({seconds:.1f} s)[/]"
        )
        done.append((title, summary, seconds))
    return done
