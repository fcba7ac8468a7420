"""A synthetic nation: deterministic source files for N pupils, with known truth.

``synthesise(out, pupils, seed)`` writes the layout in DEVELOPERS.md ("Synthetic
nation"): termly census returns per school, key stage results, NCMP measurements,
qualification results, survey contacts, the reference postcode and school files, a
truth file naming the person behind every data row, and a manifest (with the files
that are faulty on purpose). People are drawn in numpy, rows are built and faulted
in DuckDB, files are written from Arrow: nothing loops over rows in Python.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa

from pupilshare.errors import InvalidInput
from pupilshare.synth import census, faults, returns, tables, writer
from pupilshare.synth.geography import build_world
from pupilshare.synth.people import Spec, build_people, fsm_table, terms_table

if TYPE_CHECKING:
    from pupilshare.config import Home
    from pupilshare.store import Store

__all__ = ["DATASETS", "STAGES", "Spec", "nation_status", "synthesise"]

# Pupil datasets in the order they are written: what identifies a file, and the
# order of rows within it (name order, through an integer rank of names).
DATASETS: dict[str, tuple[str, str]] = {
    "census": ("t, school", "name_rank"),
    "ks_results": ("file", "name_rank, key_stage, subject"),
    "ncmp": ("file", "laestab, name_rank"),
    "qualifications": ("file", "name_rank, qual_type, subject"),
    "survey_contacts": ("file", "name_rank"),
}
# Datasets keyed on names, where two pupils may clash by chance.
DEDUPE = ("ncmp", "survey_contacts")
STAGES = 9
MEMORY = os.environ.get(
    "PUPILSHARE_SYNTH_MEMORY", "6GB"
)  # build steps before the files are written
Progress = Callable[[str, int, int], None]  # description, done, total


def _check(spec: Spec) -> None:
    """Refuse a nation that could not be valid: too small, or with future dates."""
    if spec.pupils < 50:
        raise InvalidInput("a nation needs at least 50 pupils")
    if not 1 <= spec.years <= 10:
        raise InvalidInput("a nation covers 1 to 10 academic years")
    if not 20 <= spec.school_size <= 600:
        raise InvalidInput("school size must be 20 to 600 pupils")
    last = spec.first_year + spec.years  # results come out in its August
    if date(last, 9, 1) > date.today():
        raise InvalidInput(
            f"academic year {last - 1}/{last % 100:02d} has not ended; "
            "choose an earlier --first-year or fewer --years"
        )


def _prepare(out: Path) -> None:
    """Write into an empty or absent directory, or replace an earlier nation."""
    if out.exists() and any(out.iterdir()):
        if not (out / "manifest.json").exists():
            raise InvalidInput(
                f"{out} is not empty and holds no synthetic nation; "
                "choose an empty --out"
            )
        for name in [*DATASETS, "reference"]:
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("truth.csv", "manifest.json"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _inject_faults(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator, n_census_files: int
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Make a few files faulty on purpose; returns file -> why it must be rejected,
    and the census edits (file -> column, SQL) to make as each term is written."""
    why: dict[str, str] = {}
    n_dup = min(10, max(1, n_census_files // 200))
    dups = faults.choose_files(con, "src_census", n_dup, rng, set())
    faults.duplicate_rows(con, "census", dups, "name_rank, person_id")
    why.update({f: "duplicate pupil: one row appears twice" for f in dups})
    for ds, (group, order) in DATASETS.items():
        if ds != "census":  # census is numbered term by term as it is written
            tables.number(con, ds, group, order)
    later: dict[str, tuple[str, str]] = {}
    (bad_upn,) = faults.choose_files(con, "src_census", 1, rng, set(why)) or [None]
    if bad_upn:
        later[bad_upn] = ("upn", faults.bad_check_letter_sql("upn"))
        why[bad_upn] = "UPN with a wrong check letter on line 2"
    (bad_date,) = faults.choose_files(con, "out_ks_results", 1, rng, set()) or [None]
    if bad_date:
        faults.set_value(
            con,
            "out_ks_results",
            bad_date,
            "date_of_birth",
            "substr(date_of_birth, 1, 4) || '-02-31'",
        )
        why[bad_date] = "date of birth 31 February on line 2"
    return why, later


def _write_census(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    tick: Callable[[int], None],
    later: dict[str, tuple[str, str]],
    n_terms: int,
) -> dict[str, int]:
    """Number, fault and write the census one term at a time: each term's sort fits
    in memory, where one sort of every term would spill to disk at a million pupils.
    Keeps ``truth_census`` (file, line, person_id) for the truth file."""
    con.execute(
        "CREATE OR REPLACE TABLE truth_census "
        "(file VARCHAR, line BIGINT, person_id BIGINT)"
    )
    group, order = DATASETS["census"]
    counts: dict[str, int] = {}
    for t in range(n_terms):
        tables.number(con, "census", group, order, dups=True, where=f"t = {t}")
        for file, (column, expr) in later.items():
            faults.set_value(con, "out_census", file, column, expr)
        counts.update(writer.write_dataset(con, "census", out, tick))
        con.execute(
            "INSERT INTO truth_census SELECT file, line, person_id FROM out_census"
        )
    return counts


def synthesise(
    out: str | Path,
    pupils: int,
    seed: int,
    progress: Progress | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Write a nation of ``pupils`` people for ``seed`` to ``out``; return its manifest.

    ``options`` may set ``first_year``, ``years`` and ``school_size`` (see ``Spec``).
    The same arguments always give the same bytes.
    """
    spec = Spec(pupils=pupils, seed=seed, **options)
    _check(spec)
    out = Path(out)
    _prepare(out)
    step = progress or (lambda *_: None)
    rng = np.random.default_rng(seed)
    done = 0

    def stage(name: str) -> None:
        nonlocal done
        step(name, done, STAGES)
        done += 1

    stage("places")
    world = build_world(spec.pupils, spec.school_size, rng)
    stage("people")
    people = build_people(spec, world, rng)
    fsm = fsm_table(spec, people, rng)
    tmp = tempfile.mkdtemp(prefix="pupilshare-synth-")
    # A bounded memory limit: DuckDB spills to ``tmp`` rather than crowd the machine.
    con = duckdb.connect(
        config={
            "preserve_insertion_order": True,
            "temp_directory": tmp,
            "memory_limit": MEMORY,
        }
    )
    try:
        schools = world.schools.append_column(
            "idx", pa.array(np.arange(world.schools.num_rows))
        )
        postcodes = world.postcodes.append_column(
            "idx", pa.array(np.arange(world.postcodes.num_rows))
        )
        tables.register_inputs(
            con,
            spec,
            {
                "people": people,
                "terms": terms_table(spec),
                "fsm": fsm,
                "schools": schools,
                "postcodes": postcodes,
            },
        )
        stage("census terms")
        census.build_census(con)
        census.census_src(con)
        stage("key stage results")
        returns.ks_src(con, rng)
        stage("child measurements")
        returns.ncmp_src(con, rng, spec, world.schools.num_rows)
        stage("qualifications")
        returns.qualifications_src(con, rng)
        stage("survey contacts")
        returns.survey_src(con, rng, spec)
        stage("faults")
        for ds in DEDUPE:
            tables.dedupe(con, ds, DATASETS[ds][1])
        n_census = con.execute(
            "SELECT count(DISTINCT file) FROM src_census"
        ).fetchall()[0][0]
        why, later = _inject_faults(con, rng, n_census)
        total_files = n_census + sum(
            con.execute(f"SELECT count(DISTINCT file) FROM out_{ds}").fetchall()[0][0]
            for ds in DATASETS
            if ds != "census"
        )
        written = 0

        def tick(k: int) -> None:
            nonlocal written
            written += k
            step("writing files", STAGES - 2 + written, STAGES - 2 + total_files + 1)

        files: list[dict[str, Any]] = []
        summary: dict[str, dict[str, int]] = {}
        for ds in DATASETS:
            if ds == "census":
                counts = _write_census(con, out, tick, later, spec.n_terms)
            else:
                counts = writer.write_dataset(con, ds, out, tick)
            files += [{"dataset": ds, "file": f, "rows": n} for f, n in counts.items()]
            summary[ds] = {"files": len(counts), "rows": sum(counts.values())}
        writer.write_table(world.postcodes, out / "reference" / "postcodes.csv")
        writer.write_table(world.schools, out / "reference" / "schools.csv")
        step("truth", STAGES - 2 + written, STAGES - 2 + total_files + 1)
        sources = {ds: f"out_{ds}" for ds in DATASETS} | {"census": "truth_census"}
        truth_rows = writer.write_truth(con, sources, out / "truth.csv")
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    manifest = {
        "generator": "pupilshare synth",
        "seed": seed,
        "pupils": pupils,
        "first_year": spec.first_year,
        "years": spec.years,
        "datasets": summary,
        "files": sorted(files, key=lambda f: f["file"]),
        "reference": {
            "postcodes": {
                "file": "reference/postcodes.csv",
                "rows": world.postcodes.num_rows,
            },
            "schools": {
                "file": "reference/schools.csv",
                "rows": world.schools.num_rows,
            },
        },
        "truth": {"file": "truth.csv", "rows": truth_rows},
        "faulty": sorted(why),
        "faults": dict(sorted(why.items())),
    }
    writer.write_manifest(out / "manifest.json", manifest)
    step("done", 1, 1)
    return manifest


def nation_status(store: Store, home: Home) -> dict[str, Any] | None:
    """``status --json`` section: the nation in ``HOME/nation``, if one was made."""
    path = home.root / "nation" / "manifest.json"
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    return {
        "dir": str(path.parent),
        "seed": m["seed"],
        "pupils": m["pupils"],
        "years": [m["first_year"], m["first_year"] + m["years"] - 1],
        "datasets": m["datasets"],
        "faulty": m["faulty"],
    }
