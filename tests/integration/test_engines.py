"""The same pipeline on DuckDB and on Spark gives the same pupil index and the same
releases.

A small labelled nation matched on each engine (Splink on its Spark backend, the
index written by DuckDB in the run's one transaction) must give the same pupils,
the same records linked to each, the same ULNs and the same review queue.

One small synthetic nation (the session's demo home), copied twice; the same
agreements released from each copy, one on each engine (Spark in local mode, one
session for the test run). Every file must hold the same columns and the same rows
(order aside): the same records, the same suppressions, the same pseudonyms; and the
manifests the same rules, risk notes and counts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pupilshare.config import Home
from pupilshare.store import Store

pytestmark = pytest.mark.spark

# One agreement per level the engines must agree on: records by pseudonym, records
# by name, tables with disclosure control (suppression) and perturbed tables.
AGREEMENTS = ("ier-attainment-gaps", "la2-own-pupils", "ofsted-la-children")


def _canonical(path: Path) -> tuple[list[str], list[str], list[tuple]]:
    """Columns, types and sorted rows of a Parquet file (UUIDs as their bytes)."""
    table = pq.read_table(path)
    columns = [
        pa.chunked_array([c.storage for c in col.chunks])
        if isinstance(col.type, pa.ExtensionType)
        else col
        for col in table.columns
    ]
    types = [str(f.type) for f in table.schema]
    rows = list(zip(*(c.to_pylist() for c in columns), strict=True))
    return table.column_names, types, sorted(rows, key=repr)


def _manifest(folder: Path) -> dict:
    m = json.loads((folder / "manifest.json").read_text())
    for varying in ("release_id", "created_at", "out_dir", "files"):
        m.pop(varying)
    return m


def test_releases_are_identical_on_duckdb_and_spark(
    demo_run, spark, tmp_path, monkeypatch
) -> None:
    from pupilshare import release
    from pupilshare.engine import spark as spark_store

    ran_on_spark: list[str] = []
    real_run = spark_store.SparkStore._run

    def counted(self, tree, params):  # type: ignore[no-untyped-def]
        ran_on_spark.append(tree.key)
        return real_run(self, tree, params)

    monkeypatch.setattr(spark_store.SparkStore, "_run", counted)
    out: dict[str, Path] = {}
    for engine in ("duckdb", "spark"):
        shutil.copytree(demo_run.home.root, tmp_path / engine, symlinks=True)
        home = Home.resolve(tmp_path / engine)
        monkeypatch.setenv("PUPILSHARE_ENGINE", engine)
        out[engine] = tmp_path / f"{engine}-out"
        for agreement in AGREEMENTS:
            release.release_agreement(home, agreement, out[engine] / agreement)
    assert len(ran_on_spark) > 20, "the Spark run did not run its SQL on Spark"
    for agreement in AGREEMENTS:
        duck, spk = out["duckdb"] / agreement, out["spark"] / agreement
        names = sorted(p.name for p in duck.glob("*.parquet"))
        assert names and names == sorted(p.name for p in spk.glob("*.parquet"))
        for name in names:
            a, b = _canonical(duck / name), _canonical(spk / name)
            assert a[0] == b[0], f"{agreement}/{name}: columns differ"
            assert a[1] == b[1], f"{agreement}/{name}: types differ"
            assert a[2] == b[2], f"{agreement}/{name}: rows differ"
        assert _manifest(duck) == _manifest(spk), f"{agreement}: manifests differ"
        csvs = sorted(p.name for p in duck.glob("*.csv"))
        assert csvs == sorted(p.name for p in spk.glob("*.csv"))


# What a match run writes: the index, its identifiers and links, its queue.
INDEX = {
    "pupils": "SELECT * FROM pupils",
    "pupil_identifiers": "SELECT * FROM pupil_identifiers",
    "pupil_links": "SELECT * EXCLUDE (match_probability), "
    "round(match_probability, 9) FROM pupil_links",
    "pupil_history": "SELECT * FROM pupil_history",
    "match_review": "SELECT * EXCLUDE (review_id, match_probability, match_weight, "
    "explanation) FROM match_review",
}


def test_pupil_index_is_identical_on_duckdb_and_spark(
    spark, tmp_path, monkeypatch
) -> None:
    from datetime import date

    from pupilshare.engine.linkage import SparkLinkage
    from pupilshare.match import run_match
    from pupilshare.match.model import DEFAULT_MODEL
    from pupilshare.synth.labelled_records import generate

    src = Home(tmp_path / "nation").ensure()
    with Store.open(src) as store:
        generate(store, 600, seed=3, nation=src.root / "nation")
    # One model on both engines: training samples pairs at random, differently on
    # each, so the engines are compared on the same parameters.
    shutil.copyfile(DEFAULT_MODEL, src.root / "match-model.json")
    on_spark: list[str] = []
    real_table = SparkLinkage.table

    def counted(self, data, name):  # type: ignore[no-untyped-def]
        on_spark.append(name)
        return real_table(self, data, name)

    monkeypatch.setattr(SparkLinkage, "table", counted)
    index: dict[str, dict[str, list[tuple]]] = {}
    for engine in ("duckdb", "spark"):
        shutil.copytree(src.root, tmp_path / engine)
        home = Home.resolve(tmp_path / engine)
        monkeypatch.setenv("PUPILSHARE_ENGINE", engine)
        with Store.open(home) as store:
            r = run_match(store, home, reference_date=date(2025, 6, 1))
            assert r.probabilistic > 0 and not r.retrained
            index[engine] = {
                t: sorted(store.rows(sql), key=repr) for t, sql in INDEX.items()
            }
    # the model's input and the records it scored, on Spark
    assert len(on_spark) >= 2, "Splink did not run on Spark"
    for table in INDEX:
        duck, spk = index["duckdb"][table], index["spark"][table]
        assert duck == spk, f"{table} differs between the engines"
    assert index["duckdb"]["pupils"], "nothing was matched"


def _pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """Names and keying errors of them (swaps, insertions, deletions, changes),
    short strings over two letters (many repeats), the empty string."""
    import random

    rng = random.Random(seed)
    names = "MUHAMMAD OLIVER AMELIA O'BRIEN ANNE-MARIE LI XI MACDONALD MCDONALD "
    names = [*names.split(), "THEODORE", "ABIGAIL", "SARAH", "A", ""]

    def typo(s: str) -> str:
        c = list(s) or ["A"]
        i = rng.randrange(len(c))
        op = rng.randrange(4)
        if op == 0 and len(c) > 1:
            c[i], c[(i + 1) % len(c)] = c[(i + 1) % len(c)], c[i]
        elif op == 1:
            c.insert(i, rng.choice("AEHNRST"))
        elif op == 2 and len(c) > 1:
            del c[i]
        else:
            c[i] = rng.choice("AEHNRST")
        return "".join(c)

    def short() -> str:
        return "".join(rng.choice("AB") for _ in range(rng.randrange(8)))

    out = set()
    while len(out) < n:
        a = rng.choice(names)
        out.add((a, rng.choice([a, typo(a), typo(typo(a)), rng.choice(names)])))
        out.add((short(), short()))
    return sorted(out)


def test_string_similarity_on_spark_is_duckdbs(spark) -> None:
    """The match model's string comparisons give DuckDB's numbers on Spark, to the
    last bit: Jaro-Winkler (written in Spark SQL, ``dialect._JARO_WINKLER``) and
    Damerau-Levenshtein (Splink's jar)."""
    import duckdb
    from splink.backends.spark import SparkAPI

    from pupilshare.engine import dialect

    SparkAPI(spark_session=spark)  # registers the jar's functions
    listed = _pairs(6000, 5)
    pairs = pa.table({"a": [p[0] for p in listed], "b": [p[1] for p in listed]})
    sql = (
        "SELECT a, b, jaro_winkler_similarity(a, b) AS jw, "
        "CAST(damerau_levenshtein(a, b) AS BIGINT) AS dl FROM pairs"
    )
    con = duckdb.connect()
    con.register("pairs", pairs)
    want = sorted(con.execute(sql).fetchall())
    spark.createDataFrame(pairs).createOrReplaceTempView("pairs")
    got = sorted(tuple(r) for r in spark.sql(dialect.to_spark(sql)).collect())
    assert len(got) == len(want) >= 6000
    diff = [(w, g) for w, g in zip(want, got, strict=True) if w != g]
    assert not diff, f"{len(diff)} pairs differ, e.g. {diff[:3]}"
