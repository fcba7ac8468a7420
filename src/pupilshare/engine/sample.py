"""Random samples of records that are the same records on every engine.

Splink picks the records it estimates u from by a hash of each record's id, and each
engine has its own hash (DuckDB's 64-bit ``hash``, Spark's 32-bit Murmur3), so the
same files and seed give a different sample, different u probabilities and
different scores on DuckDB and on Spark. A model fitted to the data on either
engine (``link``) must give the same answers, so its linker samples by ``SAMPLE``:
the first eight hex digits of the MD5 of the record's id and the seed, compared as
text with the proportion's own eight digits. MD5, ``substr`` and a comparison of
text mean the same on both engines, so the statement is the same text on both (no
translation), and each record is in or out of the sample alike.
"""

from __future__ import annotations

from typing import Any

from splink import Linker
from splink.internals.unique_id_concat import _composite_unique_id_from_nodes_sql

# The sample's hash space: eight hex digits.
DIGITS = 8
SAMPLE = "substr(md5(({id}) || '_{seed}'), 1, {digits}) < '{below}'"


def sample_sql(id_sql: str, proportion: float, seed: int | None = None) -> str:
    """A condition true for about ``proportion`` of records, chosen by their id
    (``id_sql``, an expression) and ``seed``: the same records on every engine."""
    below = min(max(1, round(proportion * 16**DIGITS)), 16**DIGITS - 1)
    return SAMPLE.format(
        id=id_sql,
        seed="" if seed is None else int(seed),
        digits=DIGITS,
        below=f"{below:0{DIGITS}x}",
    )


class SameSampleLinker(Linker):
    """Splink's linker, sampling records by ``sample_sql`` (see the module)."""

    def _proportion_sample_sql(
        self, proportion: float, unique_id_cols: list[Any], seed: int | None = None
    ) -> str:
        if proportion >= 1.0:
            return ""
        ident = _composite_unique_id_from_nodes_sql(unique_id_cols)
        return f" AND {sample_sql(ident, proportion, seed)}"
