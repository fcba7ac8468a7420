"""Derived items and generalisation levels, as SQL expressions over a dataset's rows.

The catalogue declares derived items (``derived=True``) and each item's generalisation
levels (``Item.generalise``); this module is the one place that says how each is
computed, so minimisation, k-anonymisation and aggregation agree.
"""

from __future__ import annotations

from pupilshare import codesets
from pupilshare.catalogue import Dataset
from pupilshare.release import ncmp
from pupilshare.schoolyear import academic_year_sql


def lit(value: object) -> str:
    """A SQL literal for a string, number or None (values come from plans)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def case_map(expr: str, mapping: dict[str, str], default: str = "NULL") -> str:
    """CASE expression mapping codes to labels (a code set's groups, for example)."""
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"CASE {expr} {whens} ELSE {default} END"


# Generalisation levels named in ``Item.generalise``: level -> SQL over the value.
GENERALISERS: dict[str, str] = {
    "month": "strftime({x}, '%Y-%m')",
    "year": "strftime({x}, '%Y')",
    "district": "split_part(upper(trim({x})), ' ', 1)",
    "area": "regexp_extract(upper(trim({x})), '^[A-Z]+')",
    "la_code": "substr({x}, 1, 3)",
    "major_group": case_map("{x}", codesets.ETHNICITY.groups, "'Unknown'"),
    # Measurements: whole units, then bands written "lo-hi" (lo included).
    "integer": "CAST(floor({x}) AS INTEGER)",
    **{
        f"band{w}": f"CAST(floor({{x}} / {w}) * {w} AS INTEGER) || '-' || "
        f"CAST(floor({{x}} / {w}) * {w} + {w} AS INTEGER)"
        for w in (2, 5, 6, 10, 12, 20)
    },
    # A centile as its population monitoring category.
    "category": ncmp.weight_category_sql("{x}"),
}
SUPPRESSED = "*"


def generalise_sql(level: str, column: str) -> str:
    """The column generalised to ``level`` (``*``: fully suppressed)."""
    if level == SUPPRESSED:
        return lit(SUPPRESSED)
    template = GENERALISERS[level]
    return "(" + template.replace("{x}", column) + ")"


def derived_sql(
    ds: Dataset, base: str, has_table: set[str], needed: set[str] | None = None
) -> str:
    """``base``'s rows (with ``__pupil_key``) plus the derived items of ``ds`` named in
    ``needed`` (all when None): an unused derivation costs a join.

    ``has_table`` says which store tables exist, so a missing reference table gives
    NULLs rather than an error.
    """
    cols = ["b.*"]
    joins: list[str] = []
    for it in ds.items:
        if not it.derived or (needed is not None and it.name not in needed):
            continue
        expr = _derived_expr(ds, it.name, has_table, joins)
        cols.append(f"{expr} AS {it.name}")
    return f"SELECT {', '.join(cols)} FROM {base} b {' '.join(joins)}"


def _derived_expr(ds: Dataset, name: str, has_table: set[str], joins: list[str]) -> str:
    if name == "la_code" and "laestab" in ds:
        return "substr(b.laestab, 1, 3)"
    if ds.name == "ncmp":
        if name == "health_area":
            if "ds_postcodes" not in has_table:
                return "CAST(NULL AS VARCHAR)"
            joins.append(
                "LEFT JOIN (SELECT upper(trim(postcode)) AS pc, any_value(health_area)"
                " AS health_area FROM ds_postcodes GROUP BY 1) hp"
                " ON hp.pc = upper(trim(b.postcode))"
            )
            return "hp.health_area"
        if name == "academic_year":
            return academic_year_sql("b.measurement_date")
        if name == "age_months":
            return "date_sub('month', b.date_of_birth, b.measurement_date)"
        if name in ("bmi_centile", "weight_category", "severely_obese"):
            _join_once(joins, ncmp.join_sql("b"))
        return ncmp.derived_expr(name, "b")
    if ds.name == "ks_results":
        if name == "reached_expected":
            expected = ", ".join(lit(c) for c in sorted(codesets.KS_EXPECTED))
            return f"CASE WHEN b.outcome IN ({expected}) THEN 'Y' ELSE 'N' END"
        if name in ("ethnic_group", "fsm_eligible", "sen_provision"):
            _join_once(joins, _census_join(has_table))
            return f"ks_census.{name}"
    raise NotImplementedError(f"no derivation for {ds.name}.{name}")


def _join_once(joins: list[str], join: str) -> None:
    if join not in joins:
        joins.append(join)


def _census_join(has_table: set[str]) -> str:
    """The pupil's latest census record in the same academic year, for breakdowns."""
    if not {"ds_census", "pupil_links"} <= has_table:
        return (
            "LEFT JOIN (SELECT NULL::BIGINT AS pupil_key, NULL::INT AS ay, "
            "NULL::VARCHAR AS ethnic_group, NULL::VARCHAR AS fsm_eligible, "
            "NULL::VARCHAR AS sen_provision WHERE FALSE) ks_census ON FALSE"
        )
    group = case_map(
        "arg_max(c.ethnicity, c.census_date)", codesets.ETHNICITY.groups, "'Unknown'"
    )
    ay = academic_year_sql("c.census_date")
    return (
        "LEFT JOIN (SELECT l.pupil_key, "
        f"{ay} AS ay, {group} AS ethnic_group, "
        "arg_max(c.fsm_eligible, c.census_date) AS fsm_eligible, "
        "arg_max(c.sen_provision, c.census_date) AS sen_provision "
        "FROM ds_census c JOIN pupil_links l ON l.dataset = 'census' "
        "AND l.collection_id = c.collection_id AND l.line = c.line "
        f"GROUP BY l.pupil_key, {ay}) ks_census "
        "ON ks_census.pupil_key = b.__pupil_key AND ks_census.ay = b.academic_year"
    )
