"""NCMP derived items: BMI, its centile against UK90, and the population monitoring
category, computed in the engine.

The reference itself comes from ``rcpchgrowth`` through ``pupilshare.growth`` (the
``growth_lms`` table: L, M, S by sex and age in days); the centile is the LMS z-score
joined by (sex, age in days), never a per-row library call.
"""

from __future__ import annotations

from pupilshare import growth
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
    return (
        f"CASE WHEN {centile} IS NULL THEN NULL WHEN {centile} >= "
        f"{SEVERELY_OBESE_MIN} THEN 'Y' ELSE 'N' END"
    )


def bmi_sql(alias: str) -> str:
    return f"({alias}.weight_kg / pow({alias}.height_cm / 100.0, 2))"


def _z_sql(value: str) -> str:
    return growth.zscore_sql(value, "lms.l", "lms.m", "lms.s")


def _centile_sql(z: str) -> str:
    return growth.centile_sql(z)


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
    if not store.exists(LMS_TABLE):
        growth.register_lms(store)
