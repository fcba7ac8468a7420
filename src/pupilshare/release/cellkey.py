"""Cell key perturbation of count tables, as the ONS protected Census 2021 tables.

Every pupil has a record key, a whole number from 0 to 255, fixed for good: AES-256
of the pupil key under a secret kept with the store's other secrets
(``HOME/keys/record-keys.secret``, never in the store), so nothing in the store or in
a release shows it. A cell's key is the sum of its pupils' record keys modulo 256
(summed in SQL for every finest cell, and like the counts over them for the margins),
and
the perturbation table (``ptable``) maps the cell's count and key to a small change.
The same pupils give the same cell key and so the same published value in every
table and every release; differencing two tables gains nothing exact.

The perturbation table follows the ONS's published design: one row per true count
(counts above the last row use it), each a distribution over changes from
``-ptable_max`` to ``+ptable_max`` that keeps the count non-negative, has mean 0 and
variance ``ptable_variance`` where the count allows, and is otherwise as spread out as
it can be (maximum entropy); its probabilities are laid over the 256 cell keys. True
zeros stay 0 (no records, no key). Small counts are handled as the ONS's own
implementation does: a perturbed count under the agreement's threshold is not shown
(``c``); it needs no secondary suppression, since no table is additive after
perturbation. Tables of sums keep suppression (the method is for counts).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import pyarrow as pa
from scipy.optimize import minimize

from pupilshare.config import Home
from pupilshare.plan import Sdc, TableSpec
from pupilshare.release.derive import lit
from pupilshare.release.population import PUPIL_KEY
from pupilshare.release.pseudonymise import encrypt_keys

KEYS = 256  # record and cell keys: 0 to 255, as the ONS's implementation
SECRET = "record-keys.secret"
RECORD_KEYS = "_record_keys"


def secret(home: Home) -> bytes:
    """The record-key secret (256 bits), made owner-readable only on first use."""
    path = home.keys_dir / SECRET
    home.keys_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) != 32:
            raise ValueError("the record-key secret is damaged") from None
        return data
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    return secret(home)


def record_keys(key: bytes, pupils: np.ndarray) -> np.ndarray:
    """Each pupil's record key (0-255): the first byte of AES-256 of its key."""
    cipher = encrypt_keys(np.asarray(pupils, dtype=np.int64), key)
    raw = np.frombuffer(cipher.storage.buffers()[1], np.uint8)
    return raw.reshape(-1, 16)[:, 0].astype(np.int64)


@lru_cache(maxsize=16)
def ptable(max_change: int, variance: float) -> np.ndarray:
    """The perturbation table: ``table[c, k]`` is the change for true count ``c``
    (the last row for larger counts) and cell key ``k``; row 0 is all 0."""
    rows = [np.zeros(KEYS, np.int64)]
    for c in range(1, 2 * max_change + 2):
        v = np.arange(max(-c, -max_change), max_change + 1)
        p = _row(v, variance)
        edges = np.round(np.cumsum(p) * KEYS).astype(int)
        change = v[np.searchsorted(edges, np.arange(KEYS), side="right")]
        rows.append(change)
    return np.array(rows)


def _row(v: np.ndarray, variance: float) -> np.ndarray:
    """Maximum-entropy probabilities over changes ``v`` with mean 0 and variance as
    near ``variance`` as the support allows."""
    var = min(variance, float(-v.min() * v.max()))  # the most a mean-0 law can have
    n = len(v)

    def neg_entropy(p: np.ndarray) -> float:
        return float(np.sum(p * np.log(np.maximum(p, 1e-300))))

    cons = [
        {"type": "eq", "fun": lambda p: p.sum() - 1},
        {"type": "eq", "fun": lambda p: p @ v},
        {"type": "eq", "fun": lambda p: p @ (v * v) - var},
    ]
    start = np.exp(-(v**2) / (2 * max(var, 0.5)))
    r = minimize(
        neg_entropy,
        start / start.sum(),
        constraints=cons,
        bounds=[(0, 1)] * n,
        method="SLSQP",
    )
    p = np.clip(r.x, 0, None)
    return p / p.sum()


def perturb(counts: np.ndarray, keys: np.ndarray, rules: Sdc) -> np.ndarray:
    """Published counts: the true count plus the table's change for its cell key."""
    table = ptable(rules.ptable_max, rules.ptable_variance)
    row = np.minimum(counts.astype(np.int64), len(table) - 1)
    return counts + table[row, keys.astype(np.int64) % KEYS]


def cells_sql(spec: TableSpec, source: str, keys: str) -> str:
    """Every finest cell's distinct pupils and the sum of their record keys, in one
    pass. Margins are sums of cells (as in every table here), keys included."""
    dims = [*spec.rows, *spec.columns]
    cats = ", ".join(
        f"coalesce(CAST({d} AS VARCHAR), {lit('Unknown')}) AS {d}" for d in dims
    )
    where = (
        " AND ".join(
            f"CAST({item} AS VARCHAR) IN ({', '.join(lit(v) for v in values)})"
            for item, values in spec.filters
        )
        or "TRUE"
    )
    dim_list = ", ".join(dims)
    return (
        f"SELECT {dim_list}, count(*) AS n, CAST(sum(rk) AS BIGINT) AS ck FROM "
        f"(SELECT {dim_list}, pk, any_value(rk) AS rk FROM "
        f"(SELECT {cats}, s.{PUPIL_KEY} AS pk, k.rk FROM {source} s "
        f"JOIN {keys} k ON k.pupil_key = s.{PUPIL_KEY} WHERE {where}) "
        f"GROUP BY ALL) GROUP BY ALL"
    )


def keys_table(home: Home, pupils: pa.Array) -> pa.Table:
    """(pupil_key, rk) for the given pupils, to register in the engine."""
    keys = pupils.to_numpy(zero_copy_only=False)
    return pa.table({"pupil_key": pupils, "rk": record_keys(secret(home), keys)})


def rules(sdc: Sdc) -> dict:
    """What a user of a perturbed table must know, printed in the manifest."""
    table = ptable(sdc.ptable_max, sdc.ptable_variance)
    return {
        "method": "cell key perturbation (the ONS's Census 2021 method)",
        "counts": f"every count has had a change of at most {sdc.ptable_max} either "
        "way added, chosen by a key fixed for its set of pupils: the same pupils give "
        "the same published value in every table and every release",
        "small_counts": f"perturbed counts from 1 to {sdc.threshold - 1} are not "
        "shown (c); true zeros are shown as 0",
        "additivity": "cells and totals are perturbed separately, so a table's cells "
        "need not add up to its totals; use the published total, never a sum of "
        "cells, and expect a difference of two published counts to be off by up to "
        f"{2 * sdc.ptable_max}",
        "ptable": {
            "max_change": sdc.ptable_max,
            "variance": sdc.ptable_variance,
            "key_range": KEYS,
            "rows": {str(c): _ranges(row) for c, row in enumerate(table) if c},
        },
    }


def _ranges(row: np.ndarray) -> list[list[int]]:
    """A ptable row as [first key, last key, change] runs."""
    out, start = [], 0
    for k in range(1, KEYS + 1):
        if k == KEYS or row[k] != row[start]:
            out.append([start, k - 1, int(row[start])])
            start = k
    return out
