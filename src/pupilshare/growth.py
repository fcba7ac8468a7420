"""The UK90 growth reference as one table, so centiles are computed in the engine.

A ``Measurement`` from rcpchgrowth costs about 125 µs, so scoring millions of NCMP
records one by one takes tens of minutes. The LMS method vectorises: for each sex,
measurement and age the reference gives L, M and S; a value's z-score is
``((x / M) ** L - 1) / (L * S)`` (``log(x / M) / S`` when L is 0) and its centile is
the normal CDF of z. This module builds that table once, one row per day of age from
4 to 19 years, and joins it in DuckDB SQL or indexes it in numpy.

**Licence.** The L, M and S values are read from rcpchgrowth (Royal College of
Paediatrics and Child Health, AGPL-3.0-or-later) through its own lookup and
interpolation (``lms_value_array_for_measurement_for_reference`` and ``fetch_lms``);
nothing here re-derives or hard-codes the reference. The table is AGPL-derived data,
one reason pupilshare is licensed AGPL-3.0-or-later.

Ages are whole days between birth and measurement, and rcpchgrowth's decimal age is
``days / 365.25``, so a daily table reproduces its z-scores exactly.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather

if TYPE_CHECKING:
    from pupilshare.store import Store

__all__ = [
    "AGE_MIN_DAYS",
    "AGE_MAX_DAYS",
    "lms_table",
    "register_lms",
    "zscore_sql",
    "value_from_z_sql",
    "centile_sql",
    "weight_category_sql",
    "bmi_zscores",
    "bmi_centiles",
]

REFERENCE = "uk-who"  # rcpchgrowth's UK-WHO switches to UK90 from age 4
AGE_MIN_DAYS = 1461  # 4 years (4 * 365.25)
AGE_MAX_DAYS = 6939  # 19 years
MEASUREMENTS = ("height", "weight", "bmi")
SEXES = {"M": "male", "F": "female"}
TABLE = "growth_lms"

# NCMP population monitoring thresholds (centiles), lowest first: a centile at or
# below 2 is underweight; at or above 85, 95 and 99.6 the higher categories.
NCMP_CATEGORIES = (
    (99.6, "severely obese"),
    (95.0, "obese"),
    (85.0, "overweight"),
)


def _cache_path() -> Path:
    root = os.environ.get("PUPILSHARE_CACHE") or Path.home() / ".cache" / "pupilshare"
    version = importlib.metadata.version("rcpchgrowth")
    return Path(root) / f"uk90_lms_{AGE_MIN_DAYS}_{AGE_MAX_DAYS}_rcpch{version}.arrow"


def _build_table() -> pa.Table:
    """Ask rcpchgrowth for L, M, S at every day of age (a few seconds, done once)."""
    # imported here to save start-up time: rcpchgrowth takes seconds to import, and
    # its table is built once per installation
    from rcpchgrowth.global_functions import (
        fetch_lms,
        lms_value_array_for_measurement_for_reference,
    )

    days = np.arange(AGE_MIN_DAYS, AGE_MAX_DAYS + 1, dtype=np.int32)
    cols: dict[str, list] = {
        k: [] for k in ("sex", "measurement", "age_days", "l", "m", "s")
    }
    for code, sex in SEXES.items():
        for meas in MEASUREMENTS:
            arrays: dict[int, list] = {}
            for d in days.tolist():
                age = d / 365.25
                # The reference array depends on the age band; fetch it per band.
                band = int(age)
                if band not in arrays:
                    arrays[band] = lms_value_array_for_measurement_for_reference(
                        reference=REFERENCE, age=age, measurement_method=meas, sex=sex
                    )
                lms = fetch_lms(age=age, lms_value_array_for_measurement=arrays[band])
                cols["l"].append(float(lms["l"]))
                cols["m"].append(float(lms["m"]))
                cols["s"].append(float(lms["s"]))
            cols["sex"].extend([code] * len(days))
            cols["measurement"].extend([meas] * len(days))
            cols["age_days"].extend(days.tolist())
    return pa.table(
        {
            "sex": pa.array(cols["sex"], pa.string()),
            "measurement": pa.array(cols["measurement"], pa.string()),
            "age_days": pa.array(cols["age_days"], pa.int32()),
            "l": pa.array(cols["l"], pa.float64()),
            "m": pa.array(cols["m"], pa.float64()),
            "s": pa.array(cols["s"], pa.float64()),
        }
    )


@functools.cache
def lms_table() -> pa.Table:
    """L, M, S by ``sex`` ('M'/'F'), ``measurement`` and ``age_days`` (4-19 years).

    Cached in memory and as an Arrow file under ``$PUPILSHARE_CACHE`` (default
    ``~/.cache/pupilshare``), keyed by the rcpchgrowth version.
    """
    path = _cache_path()
    if path.exists():
        try:
            return feather.read_table(path)
        except (OSError, pa.ArrowInvalid):
            pass  # a damaged cache is rebuilt
    table = _build_table()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        feather.write_feather(table, tmp)
        tmp.replace(path)
    except OSError:
        pass  # no writable cache: rebuild next process
    return table


def register_lms(store: Store) -> str:
    """Create (or refresh) table ``growth_lms`` in the store; returns its name."""
    store.register("_growth_lms_arrow", lms_table())
    try:
        store.execute(
            f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM "
            "_growth_lms_arrow ORDER BY sex, measurement, age_days"
        )
    finally:
        store.unregister("_growth_lms_arrow")
    return TABLE


# ----------------------------------------------------------------------------
# SQL expression builders (arguments are SQL expressions).


def _d(expr: str) -> str:
    """Arguments are SQL expressions; as DOUBLE so literals never become DECIMALs."""
    return f"CAST(({expr}) AS DOUBLE)"


def zscore_sql(value: str, l: str, m: str, s: str) -> str:  # noqa: E741
    """z-score of a measurement by the LMS method (L == 0 uses the log form)."""
    value, l, m, s = _d(value), _d(l), _d(m), _d(s)  # noqa: E741
    return (
        f"(CASE WHEN {l} = 0 THEN ln({value} / {m}) / {s} "
        f"ELSE (pow({value} / {m}, {l}) - 1) / ({l} * {s}) END)"
    )


def value_from_z_sql(z: str, l: str, m: str, s: str) -> str:  # noqa: E741
    """The measurement at z-score ``z``; NULL where 1 + L*S*z is not positive."""
    z, l, m, s = _d(z), _d(l), _d(m), _d(s)  # noqa: E741
    base = f"(1 + {l} * {s} * {z})"
    return (
        f"(CASE WHEN {l} = 0 THEN {m} * exp({s} * {z}) "
        f"WHEN {base} <= 0 THEN NULL "
        f"ELSE {m} * pow({base}, 1 / {l}) END)"
    )


# Abramowitz and Stegun 26.2.17: the normal CDF to within 7.5e-8 (DuckDB has no erf).
_AS_P = 0.2316419
_AS_B = (0.319381530, -0.356563782, 1.781477937, -1.821255978, 1.330274429)


def centile_sql(z: str) -> str:
    """Centile (0-100) of z-score ``z``: 100 * Phi(z), to within 1e-5 of a centile."""
    z = _d(z)
    az = f"abs({z})"
    t = f"(1 / (1 + {_AS_P} * {az}))"
    b1, b2, b3, b4, b5 = _AS_B
    poly = f"{t} * ({b1} + {t} * ({b2} + {t} * ({b3} + {t} * ({b4} + {t} * {b5}))))"
    tail = f"(exp(-({az}) * ({az}) / 2) / sqrt(2 * pi()) * {poly})"
    return f"(100 * (CASE WHEN ({z}) >= 0 THEN 1 - {tail} ELSE {tail} END))"


def weight_category_sql(centile: str) -> str:
    """NCMP population monitoring category of a BMI centile (UK90)."""
    whens = " ".join(
        f"WHEN ({centile}) >= {c} THEN '{name}'" for c, name in NCMP_CATEGORIES
    )
    return (
        f"(CASE WHEN ({centile}) IS NULL THEN NULL "
        f"WHEN ({centile}) <= 2 THEN 'underweight' {whens} "
        "ELSE 'healthy weight' END)"
    )


# ----------------------------------------------------------------------------
# Vectorised Python, for callers holding arrays rather than tables.


@functools.cache
def _lms_arrays(measurement: str) -> dict[str, np.ndarray]:
    """L, M, S as arrays indexed [sex (0 = M, 1 = F), age_days - AGE_MIN_DAYS]."""
    t = lms_table()
    sex = np.asarray(t["sex"].to_numpy(zero_copy_only=False))
    meas = np.asarray(t["measurement"].to_numpy(zero_copy_only=False))
    age = t["age_days"].to_numpy()
    n = AGE_MAX_DAYS - AGE_MIN_DAYS + 1
    out = {k: np.full((2, n), np.nan) for k in ("l", "m", "s")}
    for i, code in enumerate(SEXES):
        sel = (sex == code) & (meas == measurement)
        for k in out:
            out[k][i, age[sel] - AGE_MIN_DAYS] = t[k].to_numpy()[sel]
    return out


def _days(dates: object) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64)


def zscores(
    measurement: str,
    sex: np.ndarray | list[str],
    birth_date: np.ndarray | list[date],
    obs_date: np.ndarray | list[date],
    value: np.ndarray | list[float],
) -> np.ndarray:
    """z-scores against UK90; NaN outside 4-19 years or for a sex other than M/F."""
    sex = np.asarray(sex).astype(str)
    sex_idx = np.where(
        np.isin(sex, ("M", "male")), 0, np.where(np.isin(sex, ("F", "female")), 1, -1)
    )
    age = _days(obs_date) - _days(birth_date)
    ok = (sex_idx >= 0) & (age >= AGE_MIN_DAYS) & (age <= AGE_MAX_DAYS)
    x = np.asarray(value, dtype=np.float64)
    arr = _lms_arrays(measurement)
    i, j = np.where(ok, sex_idx, 0), np.where(ok, age - AGE_MIN_DAYS, 0)
    lv, mv, sv = arr["l"][i, j], arr["m"][i, j], arr["s"][i, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_l = np.where(lv == 0, 1.0, lv)
        z = np.where(
            lv == 0, np.log(x / mv) / sv, (np.power(x / mv, safe_l) - 1) / (safe_l * sv)
        )
    return np.where(ok, z, np.nan)


def bmi_zscores(sex, birth_date, obs_date, bmi) -> np.ndarray:  # type: ignore[no-untyped-def]
    """BMI z-scores against UK90 (see ``zscores``)."""
    return zscores("bmi", sex, birth_date, obs_date, bmi)


def bmi_centiles(
    sex: np.ndarray | list[str],
    birth_date: np.ndarray | list[date],
    obs_date: np.ndarray | list[date],
    bmi: np.ndarray | list[float],
) -> np.ndarray:
    """BMI centiles (0-100) against UK90, vectorised; NaN where not defined."""
    from scipy.special import ndtr  # here to save start-up time (~1 s)

    return 100 * ndtr(bmi_zscores(sex, birth_date, obs_date, bmi))
