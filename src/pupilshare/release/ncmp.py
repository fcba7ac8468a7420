"""NCMP derived items: BMI, its centile against UK90, and the population monitoring
category, computed in the engine.

The reference itself comes from ``rcpchgrowth`` through ``pupilshare.growth`` (the
``growth_lms`` table: L, M, S by sex and age in days); the centile is the LMS z-score
joined by (sex, age in days), never a per-row library call. If the growth module is not
available, the same table is built here from rcpchgrowth directly.
"""

from __future__ import annotations

import functools
import math

import pyarrow as pa

from pupilshare.store import Store

# Population monitoring thresholds on the BMI centile (domain notes, NCMP).
UNDERWEIGHT_MAX = 2.0
OVERWEIGHT_MIN = 85.0
OBESE_MIN = 95.0
SEVERELY_OBESE_MIN = 99.6
# The published categories: "obese" includes "severely obese", which NCMP statistics
# show as "of which" beside it (``severely_obese``), never as a fifth category.
CATEGORIES = ("underweight", "healthy weight", "overweight", "obese")
LMS_TABLE = "growth_lms"


def weight_category_sql(centile: str) -> str:
    """The population monitoring category; 'obese' is the 95th centile and above,
    severely obese children included."""
    return (
        f"CASE WHEN {centile} IS NULL THEN NULL "
        f"WHEN {centile} <= {UNDERWEIGHT_MAX} THEN 'underweight' "
        f"WHEN {centile} >= {OBESE_MIN} THEN 'obese' "
        f"WHEN {centile} >= {OVERWEIGHT_MIN} THEN 'overweight' "
        "ELSE 'healthy weight' END"
    )


def severely_obese_sql(centile: str) -> str:
    """'Y' for the subset of obese children at or above the 99.6th centile."""
    return (f"CASE WHEN {centile} IS NULL THEN NULL WHEN {centile} >= "
            f"{SEVERELY_OBESE_MIN} THEN 'Y' ELSE 'N' END")  # fmt: skip


def bmi_sql(alias: str) -> str:
    return f"({alias}.weight_kg / pow({alias}.height_cm / 100.0, 2))"


def _z_sql(value: str) -> str:
    try:
        from pupilshare import growth

        return growth.zscore_sql(value, "lms.l", "lms.m", "lms.s")
    except (ImportError, AttributeError):
        return (
            f"CASE WHEN lms.l = 0 THEN ln({value} / lms.m) / lms.s "
            f"ELSE (pow({value} / lms.m, lms.l) - 1) / (lms.l * lms.s) END"
        )


def _centile_sql(z: str) -> str:
    try:
        from pupilshare import growth

        return growth.centile_sql(z)
    except (ImportError, AttributeError):
        # 100 * Phi(z) by Abramowitz and Stegun 26.2.17 (error under 1e-5 centiles).
        t = f"(1.0 / (1.0 + 0.2316419 * abs({z})))"
        poly = (f"({t} * (0.319381530 + {t} * (-0.356563782 + {t} * (1.781477937 + "
                f"{t} * (-1.821255978 + {t} * 1.330274429)))))")  # fmt: skip
        upper = f"(exp(-0.5 * {z} * {z}) / {math.sqrt(2 * math.pi)} * {poly})"
        return f"(100 * CASE WHEN {z} >= 0 THEN 1 - {upper} ELSE {upper} END)"


def derived_expr(name: str, alias: str) -> str:
    """SQL for ``ncmp.<name>`` over rows ``alias`` joined to ``lms`` (see join_sql)."""
    bmi = bmi_sql(alias)
    centile = _centile_sql(_z_sql(bmi))
    if name == "bmi":
        return f"round({bmi}, 2)"
    if name == "bmi_centile":
        return f"round({centile}, 2)"
    if name == "weight_category":
        return weight_category_sql(centile)
    if name == "severely_obese":
        return severely_obese_sql(centile)
    raise NotImplementedError(f"no derivation for ncmp.{name}")


def join_sql(alias: str) -> str:
    """The LMS row for the child's sex and age in days on the measurement date."""
    return (
        f"LEFT JOIN (SELECT * FROM {LMS_TABLE} WHERE measurement = 'bmi') lms "
        f"ON lms.sex = {alias}.sex AND lms.age_days = "
        f"date_diff('day', {alias}.date_of_birth, {alias}.measurement_date)"
    )


def ensure_lms(store: Store) -> None:
    """Make sure the store has the UK90 LMS table (from ``pupilshare.growth``)."""
    if store.exists(LMS_TABLE):
        return
    try:
        from pupilshare import growth

        growth.register_lms(store)
        return
    except ImportError:
        pass
    store.register("_lms_build", _lms_from_rcpchgrowth())
    store.rows(f"CREATE TABLE {LMS_TABLE} AS SELECT * FROM _lms_build")
    store.unregister("_lms_build")


@functools.lru_cache(maxsize=1)
def _lms_from_rcpchgrowth(first_day: int = 1461, last_day: int = 4800) -> pa.Table:
    """BMI L, M, S for ages 4 to 13 by day, asked of rcpchgrowth (about a second)."""
    from rcpchgrowth.global_functions import (
        fetch_lms,
        lms_value_array_for_measurement_for_reference,
    )

    rows: dict[str, list] = {k: [] for k in ("sex", "measurement", "age_days",
                                             "l", "m", "s")}  # fmt: skip
    for sex, word in (("M", "male"), ("F", "female")):
        for day in range(first_day, last_day + 1):
            age = day / 365.25
            array = lms_value_array_for_measurement_for_reference(
                reference="uk-who", age=age, measurement_method="bmi", sex=word
            )
            lms = fetch_lms(age, array)
            values = {"sex": sex, "measurement": "bmi", "age_days": day}
            values.update({k: float(lms[k]) for k in ("l", "m", "s")})
            for k, v in values.items():
                rows[k].append(v)
    return pa.table(rows)
