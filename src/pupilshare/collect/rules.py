"""The catalogue's rules as DuckDB SQL: pure functions that build statements, no I/O.

Each collected item becomes one ``CASE`` expression over its text value giving the
first problem found (``E|reason`` for an error, ``W|reason`` for a warning, NULL when
the value is fine); cross-item rules (date of birth against the event date, age
against year group) and duplicate keys are separate expressions. ``problems_sql``
turns them into one result of ``(seq, line, field, severity, reason)`` rows, so a
whole batch of files is validated in the engine in one statement. Reasons never carry
the value.
"""

from __future__ import annotations

from datetime import date

from pupilshare import schoolyear
from pupilshare.catalogue import SQL_TYPES, Dataset, Item
from pupilshare.identifiers import LA_NUMBERS, TEMPORARY_ULN, uln_problem_sql
from pupilshare.identifiers import upn_problem_sql as _upn_sql

DATE_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
INTEGER_SHAPE = r"-?[0-9]{1,9}"
DECIMAL_SHAPE = r"-?[0-9]{1,9}(\.[0-9]+)?"
POSTCODE_SHAPE = r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}"
POSTCODE_NO_SPACE = r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}"
NAME_SHAPE = r"\p{L}[\p{L} '’.-]*"
EMAIL_SHAPE = r"[^@\s]+@[^@\s]+\.[^@\s]+"
EARLIEST = "1900-01-01"
LONGEST_LINE = 1_048_576  # bytes; a longer line is a broken file, not a long value


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# One character per number 000-999, '1' where it is an LA number: a lookup by
# position is about twice as fast as an IN list of 200 strings.
_LA_BITMAP = "".join("1" if f"{n:03d}" in LA_NUMBERS else "0" for n in range(1000))


def _is_la(three_digits: str) -> str:
    """SQL: the 3-digit text is an LA number (NULL-safe false for non-digits)."""
    return (
        f"coalesce(substr('{_LA_BITMAP}', TRY_CAST({three_digits} AS INTEGER) + 1, 1)"
        " = '1', false)"
    )


def _in_list(values: list[str] | frozenset[str]) -> str:
    return "(" + ", ".join(lit(v) for v in sorted(values)) + ")"


def read_csv_sql(paths: list[str], ds: Dataset, rejects: str) -> str:
    """Read files of ``ds`` as text columns, bad lines going to the rejects tables.

    Nothing is sniffed: the header was checked byte-wise already, and every value
    stays text so that the rules, not the reader, decide what is wrong with it.
    """
    columns = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in ds.columns) + "}"
    files = "[" + ", ".join(lit(p) for p in paths) + "]"
    return (
        f"SELECT *, file_index FROM read_csv({files}, header = true, "
        "auto_detect = false, "
        f"delim = ',', quote = '\"', escape = '\"', columns = {columns}, "
        "strict_mode = true, null_padding = false, encoding = 'utf-8', "
        f"max_line_size = {LONGEST_LINE}, store_rejects = true, "
        f"rejects_table = {lit(rejects + '_errors')}, "
        f"rejects_scan = {lit(rejects + '_scans')})"
    )


def typed_sql(item: Item, col: str) -> str:
    """The value as its catalogue type (the placeholder ULN becomes NULL)."""
    if item.check == "uln":
        return f"NULLIF({col}, {lit(TEMPORARY_ULN)})"
    if item.type in ("text", "code"):
        return col
    return f"TRY_CAST({col} AS {SQL_TYPES[item.type]})"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _type_cases(item: Item, col: str, today: date) -> list[str]:
    """WHEN clauses for the item's type and range."""
    if item.type == "date":
        return [
            f"WHEN NOT regexp_full_match({col}, {lit(DATE_SHAPE)}) "
            "THEN 'E|not a date in the form YYYY-MM-DD'",
            f"WHEN TRY_CAST({col} AS DATE) IS NULL "
            "THEN 'E|impossible date (no such day in that month)'",
            f"WHEN CAST({col} AS DATE) > DATE '{today.isoformat()}' "
            "THEN 'E|date is in the future'",
            f"WHEN CAST({col} AS DATE) < DATE '{EARLIEST}' "
            f"THEN 'E|date is before {EARLIEST}'",
        ]
    if item.type not in ("integer", "decimal"):
        return []
    shape, what = (
        (INTEGER_SHAPE, "a whole number")
        if item.type == "integer"
        else (DECIMAL_SHAPE, "a number (digits, optional decimal point)")
    )
    cases = [f"WHEN NOT regexp_full_match({col}, {lit(shape)}) THEN 'E|not {what}'"]
    num = f"CAST({col} AS DOUBLE)"
    if item.minimum is not None:
        cases.append(
            f"WHEN {num} < {item.minimum} "
            f"THEN 'E|below the minimum of {_number(item.minimum)}'"
        )
    if item.maximum is not None:
        cases.append(
            f"WHEN {num} > {item.maximum} "
            f"THEN 'E|above the maximum of {_number(item.maximum)}'"
        )
    return cases


def _code_cases(item: Item, col: str) -> list[str]:
    codes = item.codes
    if codes is None:
        return []
    shown = ", ".join(codes.values) if len(codes.values) <= 8 else "see the dictionary"
    reason = f"not a code of {codes.name} ({shown})"
    return [f"WHEN {col} NOT IN {_in_list(codes.values)} THEN {lit('E|' + reason)}"]


def _check_cases(item: Item, col: str) -> list[str]:
    """WHEN clauses for the item's identifier or format check."""
    if item.check == "upn" and item.name != "upn":  # a former UPN may be temporary
        return [f"WHEN true THEN 'E|' || ({_upn_sql(col)})"]
    if item.check == "upn":
        temporary = (
            "'W|temporary UPN: the school should replace it with a permanent one'"
        )
        return [
            f"WHEN true THEN coalesce('E|' || ({_upn_sql(col)}), CASE WHEN "
            f"regexp_full_match(substr({col}, 13, 1), '[A-Z]') THEN {temporary} END)"
        ]
    if item.check == "uln":
        return [
            f"WHEN {col} = {lit(TEMPORARY_ULN)} "
            "THEN 'W|placeholder ULN 9999999999: loaded as empty'",
            f"WHEN true THEN 'E|' || ({uln_problem_sql(col)})",
        ]
    if item.check == "laestab":
        return [
            f"WHEN NOT regexp_full_match({col}, '[0-9]{{7}}') "
            "THEN 'E|DfE number must be 7 digits (LA number + establishment)'",
            f"WHEN NOT {_is_la(f'substr({col}, 1, 3)')} "
            "THEN 'E|DfE number does not start with an LA number'",
        ]
    if item.check == "la_code":
        return [
            f"WHEN NOT regexp_full_match({col}, '[0-9]{{3}}') OR NOT {_is_la(col)} "
            "THEN 'E|not an LA number (3 digits)'"
        ]
    if item.check == "postcode":
        return [
            f"WHEN regexp_full_match({col}, {lit(POSTCODE_SHAPE)}) THEN NULL",
            f"WHEN regexp_full_match({col}, {lit(POSTCODE_NO_SPACE)}) "
            "THEN 'W|postcode has no space before the inward code'",
            "WHEN true THEN 'E|not a UK postcode (e.g. AB1 2CD, upper case)'",
        ]
    if item.check == "name":
        return [
            f"WHEN NOT regexp_full_match({col}, {lit(NAME_SHAPE)}) "
            "THEN 'W|name has characters other than letters, spaces, "
            "hyphens and apostrophes'"
        ]
    if item.check == "email":
        return [
            f"WHEN NOT regexp_full_match({col}, {lit(EMAIL_SHAPE)}) "
            "THEN 'W|not an email address'"
        ]
    return []


def item_problem_sql(item: Item, col: str, today: date) -> str:
    """The first problem with one item's value, as ``E|reason``/``W|reason`` or NULL."""
    cases = []
    if item.required:
        cases.append(f"WHEN {col} IS NULL THEN 'E|required item is missing'")
    else:
        cases.append(f"WHEN {col} IS NULL THEN NULL")
    if item.type == "text":  # codes, dates and numbers have stricter shapes
        cases.append(
            f"WHEN length({col}) > {item.max_length} "
            f"THEN 'E|longer than {item.max_length} characters'"
        )
    cases += _type_cases(item, col, today)
    cases += _code_cases(item, col)
    cases += _check_cases(item, col)
    if item.type == "text" and item.check in (None, "name"):  # others allow none
        cases.append(
            f"WHEN {col} <> trim({col}) THEN 'W|spaces before or after the value'"
        )
    return "CASE " + " ".join(cases) + " ELSE NULL END"


def _date(col: str, today: date) -> str:
    """The value as a date only when it passes its own date rules, else NULL, so a
    cross-item rule never repeats a problem already reported on the item."""
    return (
        f"(CASE WHEN length({col}) = 10 AND TRY_CAST({col} AS DATE) BETWEEN "
        f"DATE '{EARLIEST}' AND DATE '{today.isoformat()}' "
        f"THEN TRY_CAST({col} AS DATE) END)"
    )


def cross_source_sql(ds: Dataset, source: str, today: date) -> str | None:
    """The relation the cross-item rules read: each row's valid date of birth and
    event date (``_dob``, ``_ev``) and its gap between age and year group
    (``_gap``), each computed once per row.

    Age against year group: a pupil's age on 31 August at the start of the academic
    year of the event date is 4 in Reception and year + 4 in Years 1-13 (Year 1 are 5
    and turn 6 during the year; Year 6, measured by NCMP, are 10-11).
    """
    if ds.event_date is None or "date_of_birth" not in ds:
        return None
    dob = _date(ident("date_of_birth"), today)
    ev = _date(ident(ds.event_date), today)
    inner = f"SELECT seq, pos, {dob} AS _dob, {ev} AS _ev"
    gap = "NULL"
    if ds.year_group is not None:
        yg = ident(ds.year_group)
        codes = ds.item(ds.year_group).codes
        assert codes is not None
        inner += f", {yg} AS _yg"
        age = schoolyear.age_on_31_august_sql("_dob", "_ev")
        expected = schoolyear.expected_age_sql("_yg")
        gap = (
            f"CASE WHEN _yg IN {_in_list(codes.values)} AND _dob <= _ev "
            f"THEN abs({age} - {expected}) END"
        )
    return f"SELECT seq, pos, _dob, _ev, {gap} AS _gap FROM ({inner} FROM {source})"


def cross_problem_sqls(ds: Dataset) -> list[tuple[str, str]]:
    """Rules between items, over ``cross_source_sql``: (field, expression) pairs.

    A date of birth after the event date is an error; an age one year out for the
    year group is a query (warning: held back or ahead), two or more an error.
    """
    if ds.event_date is None or "date_of_birth" not in ds:
        return []
    out = [
        (
            "date_of_birth",
            f"CASE WHEN _dob > _ev THEN 'E|date of birth is after "
            f"the {ds.event_date}' END",
        )
    ]
    if ds.year_group is not None:
        out.append(
            (
                ds.year_group,
                "CASE WHEN _gap >= 2 THEN 'E|age on 31 August does not fit the "
                "year group (2 or more years out)' WHEN _gap = 1 THEN "
                "'W|age on 31 August is one year out for the year group' END",
            )
        )
    return out


def duplicate_sql(ds: Dataset, source: str, to_line: str = "pos") -> str | None:
    """Rows whose unique key appears more than once in their return (NULL parts
    never match), with the lines of the other copies.

    Repeated keys are found by aggregation first, so only their rows are windowed.
    ``source`` has ``seq`` and ``pos`` columns; ``to_line`` turns ``pos`` into a line.
    """
    if not ds.unique_key:
        return None
    key = ", ".join(ident(k) for k in ds.unique_key)
    present = " AND ".join(f"{ident(k)} IS NOT NULL" for k in ds.unique_key)
    label = "+".join(ds.unique_key)
    others = "list_slice(list_filter(lines, lambda x: x <> line), 1, 5)"
    repeated = (
        f"SELECT seq, {key} FROM {source} WHERE {present} "
        f"GROUP BY seq, {key} HAVING count(*) > 1"
    )
    return (
        f"SELECT seq, line, {lit(label)} AS field, 'error' AS severity, "
        f"'same ' || {lit(' + '.join(ds.unique_key))} || ' as line' || "
        "CASE WHEN n > 2 THEN 's ' ELSE ' ' END || "
        f"array_to_string({others}, ', ') "
        "|| CASE WHEN n > 6 THEN ', ...' ELSE '' END "
        "|| ' (duplicate pupil in this return)' AS reason "
        "FROM (SELECT seq, line, count(*) OVER w AS n, "
        "list(line) OVER (w ORDER BY line ROWS BETWEEN UNBOUNDED PRECEDING AND "
        "UNBOUNDED FOLLOWING) AS lines "
        f"FROM (SELECT seq, CAST({to_line} AS INTEGER) AS line, {key} "
        f"FROM {source} SEMI JOIN ({repeated}) USING (seq, {key})) "
        f"WINDOW w AS (PARTITION BY seq, {key}))"
    )


def problems_sql(ds: Dataset, source: str, today: date, to_line: str = "pos") -> str:
    """Every problem in the staged rows: ``(seq, line, field, severity, reason)``.

    One branch per rule over ``source`` (columns ``seq``, ``pos`` and the items);
    only rows with a problem have their position turned into a line.
    """
    checks = [
        (i.name, item_problem_sql(i, ident(i.name), today), source)
        for i in ds.collected
    ]
    cross = cross_source_sql(ds, source, today)
    # The cross rules' dates are worked out once; only rows breaking one are kept.
    head = (
        ""
        if cross is None
        else f"WITH _cross AS MATERIALIZED (SELECT * FROM ({cross}) "
        "WHERE _dob > _ev OR _gap >= 1) "
    )
    checks += [(name, expr, "_cross") for name, expr in cross_problem_sqls(ds)]
    branches = [
        f"SELECT seq, pos, {lit(name)} AS field, p FROM "
        f"(SELECT seq, pos, {expr} AS p FROM {rel}) WHERE p IS NOT NULL"
        for name, expr, rel in checks
    ]
    body = " UNION ALL ".join(branches)
    sql = (
        f"{head}SELECT seq, CAST({to_line} AS INTEGER) AS line, field, "
        "CASE WHEN p[1] = 'E' THEN 'error' ELSE 'warning' END "
        f"AS severity, p[3:] AS reason FROM ({body})"
    )
    dupes = duplicate_sql(ds, source, to_line)
    return sql if dupes is None else f"{sql} UNION ALL {dupes}"


def dataset_table_sql(ds: Dataset) -> str:
    cols = ", ".join(f"{ident(i.name)} {i.sql_type}" for i in ds.collected)
    return (
        f"CREATE TABLE IF NOT EXISTS {ident(ds.table)} "
        f"(collection_id INTEGER NOT NULL, line INTEGER NOT NULL, {cols})"
    )


def insert_rows_sql(ds: Dataset, stage: str) -> str:
    """Copy one file's staged rows (``stage`` has ``line`` and the items) into the
    dataset's table, typed, under collection ``$1``."""
    names = ", ".join(ident(i.name) for i in ds.collected)
    values = ", ".join(typed_sql(i, ident(i.name)) for i in ds.collected)
    return (
        f"INSERT INTO {ident(ds.table)} (collection_id, line, {names}) "
        f"SELECT $1, line, {values} FROM {stage}"
    )


STORE_TABLES_SQL = [
    "CREATE TABLE IF NOT EXISTS collections (collection_id INTEGER PRIMARY KEY, "
    "dataset VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_path VARCHAR, "
    "sha256 VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL, "
    "row_count BIGINT NOT NULL, warning_count BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS collection_issues (collection_id INTEGER NOT NULL, "
    "file_name VARCHAR, line INTEGER, field VARCHAR, severity VARCHAR, "
    "reason VARCHAR)",
    "CREATE TABLE IF NOT EXISTS rejections (rejection_id INTEGER PRIMARY KEY, "
    "dataset VARCHAR NOT NULL, file_name VARCHAR NOT NULL, sha256 VARCHAR, "
    "received_at TIMESTAMP NOT NULL, error_count BIGINT NOT NULL, "
    "report_path VARCHAR)",
]
