"""A small labelled nation straight into ``ds_`` tables, for tests and the bench.

The real synthetic nation (``pupilshare synth``) goes through files and collection;
this writes the same store tables directly, with the person-field errors matching must
survive: typos in names, day and month swapped, missing and temporary UPNs, ULNs on
qualification records and a few records with nothing usable. ``truth`` gives the
person behind every record, as ``truth.csv`` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pupilshare import catalogue
from pupilshare.identifiers import make_upn, uln_check_digit
from pupilshare.store import Store

FORENAMES = (
    "OLIVIA AMELIA ISLA AVA MIA IVY LILY ISABELLA ROSIE SOPHIA GRACE FREYA WILLOW "
    "EMILY ELLA POPPY EVIE CHARLOTTE ELSIE SIENNA DAISY ALICE SOFIA ZARA MATILDA RUBY "
    "NOAH OLIVER GEORGE ARTHUR MUHAMMAD LEO HARRY OSCAR ARCHIE HENRY THEODORE JACK "
    "FREDDIE CHARLIE THEO FINLEY ALFIE JACOB ISAAC THOMAS LUCAS EDWARD ETHAN JOSHUA "
    "MASON SAMUEL ALEXANDER DANIEL ADAM ELIJAH JAMES REUBEN LOUIE SEBASTIAN"
).split()
SURNAMES = (
    "SMITH JONES WILLIAMS TAYLOR BROWN DAVIES EVANS WILSON THOMAS JOHNSON ROBERTS "
    "ROBINSON THOMPSON WRIGHT WALKER WHITE EDWARDS HUGHES GREEN HALL LEWIS HARRIS "
    "CLARKE PATEL JACKSON WOOD TURNER MARTIN COOPER HILL WARD MORRIS MOORE CLARK LEE "
    "KING BAKER HARRISON MORGAN ALLEN JAMES SCOTT PHILLIPS WATSON DAVIS PARKER PRICE "
    "BENNETT YOUNG GRIFFITHS MITCHELL KELLY COOK CARTER RICHARDSON BAILEY COLLINS BELL "
    "SHAW MURPHY MILLER COX RICHARDS KHAN MARSHALL ANDERSON SIMPSON ELLIS ADAMS SINGH "
    "BEGUM WILKINSON FOSTER CHAPMAN POWELL WEBB ROGERS GRAY MASON ALI HUNT HUSSAIN "
    "CAMPBELL MATTHEWS OWEN PALMER HOLMES MILLS BARNES KNIGHT LLOYD BUTLER RUSSELL "
    "BARKER FISHER STEVENS JENKINS MURRAY DIXON HARVEY NOWAK OKAFOR KOWALSKI NGUYEN"
).split()
DISTRICTS = [
    f"{a}{n}" for a in ("LS", "BD", "HX", "WF", "HD", "YO") for n in range(1, 9)
]


@dataclass(frozen=True)
class Sample:
    """What was generated: record counts per dataset and the truth table name."""

    pupils: int
    records: dict[str, int]


def _typo(rng: np.random.Generator, names: np.ndarray, rate: float) -> np.ndarray:
    """Replace, drop or transpose one letter in about ``rate`` of the names."""
    out = names.copy()
    hit = np.flatnonzero(rng.random(len(names)) < rate)
    for i in hit:  # a few hundred at most in a test; the bench uses synth
        s = out[i]
        if len(s) < 3:
            continue
        p = int(rng.integers(1, len(s) - 1))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            s = s[:p] + chr(65 + int(rng.integers(0, 26))) + s[p + 1 :]
        elif kind == 1:
            s = s[:p] + s[p + 1 :]
        else:
            s = s[: p - 1] + s[p] + s[p - 1] + s[p + 1 :]
        out[i] = s
    return out


def _people(n: int, rng: np.random.Generator, today: date) -> dict[str, np.ndarray]:
    fz = 1.0 / np.arange(1, len(FORENAMES) + 1)
    sz = 1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.8
    age_days = rng.integers(4 * 365, 17 * 365, n)
    dob = np.array([today - timedelta(days=int(d)) for d in age_days])
    sex = rng.choice(np.array(["F", "M"]), n)
    fore = rng.choice(np.array(FORENAMES), n, p=fz / fz.sum())
    sur = rng.choice(np.array(SURNAMES), n, p=sz / sz.sum())
    pc = np.array(
        [
            f"{rng.choice(DISTRICTS)} {rng.integers(1, 9)}"
            f"{chr(65 + int(rng.integers(0, 26)))}"
            f"{chr(65 + int(rng.integers(0, 26)))}"
            for _ in range(n)
        ]
    )
    upn = np.array(
        [make_upn(380 + i % 4, 2000 + i % 90, 20, i % 1000) for i in range(n)]
    )
    stems = 300_000_000 + np.arange(n) * 7
    uln = np.array(
        [
            f"{s}{d}" if (d := uln_check_digit(str(s))) not in (None, 10) else ""
            for s in stems
        ]
    )
    return {
        "person_id": np.arange(n),
        "dob": dob,
        "sex": sex,
        "forename": fore,
        "surname": sur,
        "postcode": pc,
        "upn": upn,
        "uln": uln,
        "age": age_days // 365,
    }


def _swap(dob: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    out = dob.copy()
    for i in np.flatnonzero(rng.random(len(dob)) < rate):
        d = out[i]
        if d.day <= 12 and d.day != d.month:
            out[i] = date(d.year, d.day, d.month)
    return out


def _table(ds: catalogue.Dataset, cols: dict[str, object], n: int) -> pa.Table:
    arrays = {
        "collection_id": pa.array(np.full(n, 0), pa.int64()),
        "line": pa.array(np.arange(2, n + 2), pa.int64()),
    }
    for item in ds.collected:
        v = cols.get(item.name)
        if v is None:
            arrays[item.name] = pa.nulls(n, pa.string())
        else:
            vals = [None if (isinstance(x, str) and x == "") else x for x in v]
            arrays[item.name] = pa.array(vals)
    return pa.table(arrays)


def _records(
    p: dict[str, np.ndarray],
    idx: np.ndarray,
    rng: np.random.Generator,
    *,
    typo: float,
    swap: float,
    upn_rate: float,
) -> dict[str, np.ndarray]:
    """Person fields for one record per index in ``idx``, with errors."""
    n = len(idx)
    upn = p["upn"][idx].astype(object)
    upn[rng.random(n) >= upn_rate] = ""
    return {
        "forename": _typo(rng, p["forename"][idx], typo),
        "surname": _typo(rng, p["surname"][idx], typo),
        "date_of_birth": _swap(p["dob"][idx], rng, swap),
        "sex": p["sex"][idx],
        "postcode": p["postcode"][idx],
        "upn": upn,
    }


def generate(
    store: Store,
    pupils: int = 800,
    seed: int = 1,
    *,
    today: date = date(2025, 6, 1),
    census_terms: int = 2,
    nation: Path = Path("nation"),
) -> Sample:
    """Write ``ds_`` tables and ``collections`` into ``store``, and the truth of every
    record to ``nation/truth.csv`` (columns and paths as ``pupilshare synth`` has)."""
    nation = Path(nation).resolve()
    nation.mkdir(parents=True, exist_ok=True)
    truths: list[pa.Table] = []
    rng = np.random.default_rng(seed)
    p = _people(pupils, rng, today)
    _collections_table(store)
    next_cid = (store.one("SELECT max(collection_id) FROM collections") or 0) + 1
    counts: dict[str, int] = {}
    everyone = np.arange(pupils)
    plans: list[tuple[str, np.ndarray, dict[str, float]]] = [
        ("census", everyone, {"typo": 0.02, "swap": 0.01, "upn_rate": 1.0})
        for _ in range(census_terms)
    ]
    ks = np.repeat(everyone[p["age"] >= 7], 3)  # three subjects each
    plans.append(("ks_results", ks, {"typo": 0.03, "swap": 0.02, "upn_rate": 0.7}))
    young = everyone[p["age"] <= 11]
    plans.append(("ncmp", young, {"typo": 0.05, "swap": 0.03, "upn_rate": 0.0}))
    old = everyone[p["age"] >= 15]
    plans.append(("qualifications", old, {"typo": 0.05, "swap": 0.02, "upn_rate": 0}))
    sc = rng.choice(everyone, pupils // 5, replace=False)
    plans.append(("survey_contacts", sc, {"typo": 0.05, "swap": 0.02, "upn_rate": 0.5}))
    for name, idx, err in plans:
        ds = catalogue.dataset(name)
        cols: dict[str, object] = _records(p, idx, rng, **err)
        cols.update(_extras(name, p, idx, rng, today))
        if name != "census":  # a few records nobody could match
            bad = np.flatnonzero(rng.random(len(idx)) < 0.004)
            cols["forename"][bad] = "."
            cols["surname"][bad] = "UNKNOWN"
            cols["upn"][bad] = ""
        if "upn" not in ds:
            cols.pop("upn")
        t = _table(ds, cols, len(idx)).set_column(
            0, "collection_id", pa.array(np.full(len(idx), next_cid), pa.int64())
        )
        file_name = f"{name}_{next_cid}.csv"
        _append(store, ds, t)
        store.execute(
            "INSERT INTO collections VALUES (?, ?, ?, ?, 'x', now(), ?, 0)",
            [next_cid, name, file_name, f"{nation}/{name}/{file_name}", len(idx)],
        )
        truth = pa.table(
            {
                "dataset": pa.array([name] * len(idx)),
                "file": pa.array([f"{name}/{file_name}"] * len(idx)),
                "line": t["line"],
                "person_id": pa.array(idx, pa.int64()),
            }
        )
        truths.append(truth)
        counts[name] = counts.get(name, 0) + len(idx)
        next_cid += 1
    pacsv.write_csv(pa.concat_tables(truths), nation / "truth.csv")
    return Sample(pupils, counts)


def _extras(
    name: str,
    p: dict[str, np.ndarray],
    idx: np.ndarray,
    rng: np.random.Generator,
    today: date,
) -> dict[str, object]:
    """Non-person fields the matcher reads: event dates and carried ULNs."""
    n = len(idx)
    ds = catalogue.dataset(name)
    out: dict[str, object] = {}
    if ds.event_date:
        out[ds.event_date] = [today] * n
    if name == "qualifications":
        uln = p["uln"][idx].astype(object)
        uln[rng.random(n) < 0.5] = ""
        out["uln"] = uln
    if name == "census":
        out["former_upn"] = [""] * n
    return out


def _append(store: Store, ds: catalogue.Dataset, t: pa.Table) -> None:
    cols = ", ".join(f'"{i.name}" {i.sql_type}' for i in ds.collected)
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {ds.table} "
        f"(collection_id BIGINT, line BIGINT, {cols})"
    )
    names = ", ".join(
        f'CAST("{c}" AS {ds.item(c).sql_type}) AS "{c}"' if c in ds else f'"{c}"'
        for c in t.column_names
    )
    store.register("_sample_in", t)
    store.execute(f"INSERT INTO {ds.table} BY NAME SELECT {names} FROM _sample_in")
    store.unregister("_sample_in")


def add_records(store: Store, dataset: str, rows: list[dict[str, object]]) -> int:
    """Append hand-written records (person fields by name) as one new collection;
    its collection id. For tests that need exact control over a few records."""
    ds = catalogue.dataset(dataset)
    _collections_table(store)
    cid = (store.one("SELECT max(collection_id) FROM collections") or 0) + 1
    n = len(rows)
    cols = {c: [r.get(c) for r in rows] for c in ds.columns}
    t = _table(ds, {c: v for c, v in cols.items() if any(x is not None for x in v)}, n)
    t = t.set_column(0, "collection_id", pa.array([cid] * n, pa.int64()))
    _append(store, ds, t)
    store.execute(
        "INSERT INTO collections VALUES (?, ?, ?, ?, 'x', now(), ?, 0)",
        [cid, dataset, f"{dataset}_{cid}.csv", f"/hand/{dataset}_{cid}.csv", n],
    )
    return int(cid)


def _collections_table(store: Store) -> None:
    store.execute(
        "CREATE TABLE IF NOT EXISTS collections (collection_id BIGINT, dataset VARCHAR,"
        " file_name VARCHAR, file_path VARCHAR, sha256 VARCHAR, received_at TIMESTAMP,"
        " row_count BIGINT, warning_count BIGINT)"
    )
