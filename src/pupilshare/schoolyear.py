"""The school year rules, defined once: academic years, age on 31 August, year groups.

A pupil's National Curriculum year group is their age on 31 August at the start of the
academic year minus 4 (Reception: age 4; Year 6: age 10; Year 11: age 15). Academic
years run 1 September to 31 August and are named by their first calendar year.
Collection checks ages with these, the synthetic nation draws birth dates with them,
and releases filter populations with them.
"""

from __future__ import annotations

from datetime import date

# The year groups of each key stage (National Curriculum): KS1 Years 1-2, KS2 Years
# 3-6, KS3 Years 7-9, KS4 Years 10-11.
KEY_STAGE_YEARS: dict[str, tuple[str, ...]] = {
    "1": ("1", "2"),
    "2": ("3", "4", "5", "6"),
    "3": ("7", "8", "9"),
    "4": ("10", "11"),
}


def academic_year(d: date) -> int:
    return d.year - (1 if d.month < 9 else 0)


def age_on_31_august(dob: date, academic_year_start: int) -> int:
    """Whole years of age on 31 August before the academic year starting then."""
    return academic_year_start - dob.year - (1 if dob.month > 8 else 0)


def expected_age(year_group: str) -> int:
    return 4 if year_group == "R" else int(year_group) + 4


def academic_year_sql(d: str) -> str:
    return f"(year({d}) - CASE WHEN month({d}) < 9 THEN 1 ELSE 0 END)"


def age_on_31_august_sql(dob: str, event: str) -> str:
    """SQL: age on 31 August at the start of the academic year of ``event``."""
    start = academic_year_sql(event)
    return f"({start} - year({dob}) - CASE WHEN month({dob}) > 8 THEN 1 ELSE 0 END)"


def age_on_sql(dob: str, on: str) -> str:
    """SQL: whole years of age on a date (birthdays counted to the day)."""
    return (
        f"(year({on}) - year({dob}) - CASE WHEN strftime({on}, '%m%d') < "
        f"strftime({dob}, '%m%d') THEN 1 ELSE 0 END)"
    )


def expected_age_sql(year_group: str) -> str:
    """SQL: the age a year group implies (NULL for an unknown group)."""
    return (
        f"(CASE WHEN {year_group} = 'R' THEN 4 "
        f"ELSE TRY_CAST({year_group} AS INTEGER) + 4 END)"
    )


def year_group_sql(dob: str, event: str) -> str:
    """SQL: the year group a pupil born on ``dob`` is in on the date ``event`` (age on
    31 August before that academic year, minus 4; 'R' for Reception; NULL outside
    Reception to Year 14)."""
    age = age_on_31_august_sql(dob, event)
    return (
        f"(CASE WHEN {age} = 4 THEN 'R' WHEN {age} BETWEEN 5 AND 18 "
        f"THEN CAST({age} - 4 AS VARCHAR) END)"
    )
