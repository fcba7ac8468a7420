"""A small linked world in the store, made in SQL: pupils, links and records of the
census, key stage results, NCMP and postcodes, following DEVELOPERS.md's tables.

For the release area's tests and benchmark, where a whole nation through collection
and matching would take minutes. Values are deterministic in ``seed``.
"""

from __future__ import annotations

from pupilshare import catalogue
from pupilshare.store import Store

LAS = ("201", "202", "203", "204", "205", "206", "207", "208")
HEALTH = ("HA1", "HA2", "HA3")


def _r(i: str, salt: int, seed: int) -> str:
    """Uniform in [0, 1) from a row number, a salt and the seed."""
    return f"((hash({i}, {salt}, {seed}) % 1000003) / 1000003.0)"


def _pick(values: tuple[str, ...], u: str) -> str:
    arr = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{arr}[1 + CAST(floor({u} * {len(values)}) AS INTEGER)]"


def _create(store: Store, name: str) -> None:
    ds = catalogue.dataset(name)
    cols = ", ".join(f"{i.name} {i.sql_type}" for i in ds.collected)
    store.drop(ds.table)
    store.rows(f"CREATE TABLE {ds.table} (collection_id INTEGER, line INTEGER, {cols})")


def make_world(
    store: Store, pupils: int = 400, seed: int = 1, ks_years: int = 3
) -> None:
    """Create (replacing) the sample tables with ``pupils`` pupils."""
    r = lambda salt: _r("i", salt, seed)  # noqa: E731
    store.rows(
        "CREATE OR REPLACE TABLE pupils AS SELECT i AS pupil_key, "
        "'H80120000' || lpad(CAST(i AS VARCHAR), 4, '0') AS upn, NULL AS uln, "
        "'F' || i AS forename, 'S' || i AS surname, "
        f"DATE '2012-09-01' + CAST(floor({r(1)} * 1460) AS INTEGER) AS date_of_birth, "
        f"CASE WHEN {r(2)} < 0.5 THEN 'M' ELSE 'F' END AS sex, "
        f"'AB' || CAST(1 + floor({r(3)} * 9) AS INTEGER) || ' ' || "
        f"CAST(floor({r(4)} * 9) AS INTEGER) || 'XY' AS postcode, 1 AS created_run "
        f"FROM range(1, {pupils + 1}) t(i)"
    )
    store.rows(
        "CREATE OR REPLACE TABLE pupil_home AS SELECT pupil_key, "
        f"{_pick(LAS, _r('pupil_key', 5, seed))} AS la, "
        f"{_pick(('WBRI', 'WBRI', 'WBRI', 'AIND', 'BAFR', 'MWBC', 'CHNE', 'WOTH'), _r('pupil_key', 6, seed))} AS eth, "  # noqa: E501
        f"CASE WHEN {_r('pupil_key', 7, seed)} < 0.25 THEN 'Y' ELSE 'N' END AS fsm, "
        f"{_pick(('N', 'N', 'N', 'N', 'K', 'E'), _r('pupil_key', 8, seed))} AS sen "
        "FROM pupils"
    )
    for name in ("census", "ks_results", "ncmp", "postcodes"):
        _create(store, name)
    store.rows(
        "INSERT INTO ds_postcodes SELECT 1, row_number() OVER () + 1, pc, 'E0100' || "
        f"substr(pc, 3, 1), {_pick(LAS, _r('pc', 9, seed))}, "
        f"{_pick(HEALTH, _r('pc', 10, seed))} FROM (SELECT DISTINCT postcode AS pc "
        "FROM pupils)"
    )
    ay = "2021 + y"
    store.rows(
        "INSERT INTO ds_census (collection_id, line, census_date, laestab, upn, "
        "forename, surname, date_of_birth, sex, postcode, ethnicity, first_language, "
        "ncyear, enrol_status, sen_provision, fsm_eligible) "
        f"SELECT 10 + y, row_number() OVER (PARTITION BY y ORDER BY p.pupil_key) + 1, "
        f"make_date({ay}, 10, 5), h.la || '2000', p.upn, p.forename, p.surname, "
        "p.date_of_birth, p.sex, p.postcode, h.eth, 'ENG', "
        f"CAST(greatest(0, {ay} - year(p.date_of_birth) - 5) AS VARCHAR), 'C', h.sen, "
        "h.fsm FROM pupils p JOIN pupil_home h USING (pupil_key), "
        f"range({ks_years}) t(y)"
    )
    u = _r("p.pupil_key * 31 + y * 7 + length(s)", 11, seed)
    store.rows(
        "INSERT INTO ds_ks_results (collection_id, line, academic_year, "
        "assessment_date, laestab, upn, forename, surname, date_of_birth, sex, "
        "key_stage, subject, outcome, scaled_score) "
        "SELECT 20 + y, "
        "row_number() OVER (PARTITION BY y ORDER BY p.pupil_key, s) + 1, "
        f"{ay}, make_date({ay} + 1, 5, 15), h.la || '2000', p.upn, p.forename, "
        f"p.surname, p.date_of_birth, p.sex, '2', s, "
        f"CASE WHEN {u} < 0.7 THEN 'AS' ELSE 'NS' END, "
        f"CAST(80 + floor({u} * 40) AS INTEGER) "
        "FROM pupils p JOIN pupil_home h USING (pupil_key), "
        f"range({ks_years}) t(y), (VALUES ('READ'), ('MATH')) v(s)"
    )
    h = _r("p.pupil_key", 12, seed)
    w = _r("p.pupil_key", 13, seed)
    store.rows(
        "INSERT INTO ds_ncmp (collection_id, line, measurement_date, laestab, "
        "school_year, upn, forename, surname, date_of_birth, sex, postcode, "
        "height_cm, weight_kg) "
        "SELECT 30, row_number() OVER (ORDER BY p.pupil_key) + 1, md, h.la || '2000', "
        "CASE WHEN year(md) - year(p.date_of_birth) < 8 THEN 'R' ELSE '6' END, "
        "p.upn, p.forename, p.surname, p.date_of_birth, p.sex, p.postcode, "
        f"ht, round(pow(ht / 100.0, 2) * (14 + 8 * {w} * {w} + 3 * {h}), 1) FROM ("
        f"SELECT *, DATE '2023-03-01' AS md, 105 + 45 * {h} AS ht FROM pupils p) p "
        "JOIN pupil_home h USING (pupil_key)"
    )
    links = " UNION ALL ".join(
        f"SELECT '{n}' AS dataset, d.collection_id, d.line, p.pupil_key, 'exact', "
        f"1.0, 1 FROM ds_{n} d JOIN pupils p ON p.upn = d.upn"
        for n in ("census", "ks_results", "ncmp")
    )
    store.rows(
        "CREATE OR REPLACE TABLE pupil_links (dataset VARCHAR, collection_id INTEGER, "
        "line INTEGER, pupil_key BIGINT, method VARCHAR, match_probability DOUBLE, "
        "match_run INTEGER)"
    )
    store.rows(f"INSERT INTO pupil_links {links}")
    store.drop("pupil_home")
