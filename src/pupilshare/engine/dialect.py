"""The SQL dialect of each engine: the pipeline's SQL is written once (DuckDB's
dialect) and translated for Spark by ``sqlglot``, plus a small, named list of
per-engine expressions where the translation alone is not enough.

Nothing here runs SQL: ``to_spark`` is a pure function from one statement to
another, tested without an engine.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp

READ = "duckdb"
SPARK = "spark"
# A measure as the pipeline sums it: an exact decimal, so a sum is the same number
# on every engine whatever order it adds in (floating sums differ in the last
# digits). Six places hold every measure the catalogue has; sums of it are held to
# EXACT_SUM, as DuckDB's are.
EXACT = "DECIMAL(18, 6)"
EXACT_SUM = "DECIMAL(38, 6)"


def _top_n(node: exp.Expression) -> exp.Expression:
    """DuckDB ``max(v, n)``: the ``n`` largest values, largest first (a list)."""
    n = node.args.get("count") if isinstance(node, exp.Max) else None
    if n is not None:
        return exp.func(
            "slice",
            exp.func("sort_array", exp.func("collect_list", node.this), exp.false()),
            exp.Literal.number(1),
            n.copy(),
        )
    return node


def _list_functions(node: exp.Expression) -> exp.Expression:
    """``list_extract(l, i)`` (1-based, NULL past the end) and ``list_sum(l)`` (of
    exact measures: summed as ``EXACT_SUM``, as DuckDB sums a list of decimals)."""
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name == "list_extract" and len(args) == 2:
            return exp.func("try_element_at", args[0].copy(), args[1].copy())
        if name == "list_sum" and len(args) == 1:
            return sqlglot.parse_one(
                f"aggregate(l, CAST(0 AS {EXACT_SUM}), "
                f"(acc, x) -> CAST(acc + x AS {EXACT_SUM}))",
                read=SPARK,
            ).transform(lambda n: args[0].copy() if _is_column(n, "l") else n)
    return node


def _months_between(node: exp.Expression) -> exp.Expression:
    """DuckDB ``date_sub('month', a, b)``: whole months from ``a`` to ``b`` (a
    month is complete when its day of the month is reached, or ``b`` is the last
    day of its month)."""
    if isinstance(node, exp.Anonymous | exp.DateSub) and _is_month_sub(node):
        a, b = (e.copy() for e in _date_sub_args(node))
        return sqlglot.parse_one(
            "((year(b) * 12 + month(b)) - (year(a) * 12 + month(a)) - "
            "CASE WHEN day(b) < day(a) AND b <> last_day(b) THEN 1 ELSE 0 END)",
            read=SPARK,
        ).transform(
            lambda n: (
                a.copy()
                if _is_column(n, "a")
                else b.copy()
                if _is_column(n, "b")
                else n
            )
        )
    return node


def _is_column(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Column) and not node.table and node.name == name


def _date_sub_args(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Anonymous):
        return node.expressions[1:]
    return [node.expression, node.this]  # pragma: no cover - sqlglot's own shape


def _is_month_sub(node: exp.Expression) -> bool:
    if isinstance(node, exp.Anonymous):
        args = node.expressions
        return (
            node.name.lower() == "date_sub"
            and len(args) == 3
            and isinstance(args[0], exp.Literal)
            and args[0].this.lower() == "month"
        )
    return False


def _distinct_window(node: exp.Expression) -> exp.Expression:
    """``count(DISTINCT x) OVER (...)``: Spark has no distinct window aggregates;
    the size of the window's set of values is the same number."""
    if (
        isinstance(node, exp.Window)
        and isinstance(node.this, exp.Count)
        and isinstance(node.this.this, exp.Distinct)
        and len(node.this.this.expressions) == 1
    ):
        value = node.this.this.expressions[0].copy()
        window = node.copy()
        window.set("this", exp.func("collect_set", value))
        return exp.func("size", window)
    return node


def _jaro_winkler(node: exp.Expression) -> exp.Expression:
    """DuckDB ``jaro_winkler_similarity(a, b)``: on Spark, the function of the same
    name in Splink's jar of similarity functions, registered as ``jaro_winkler``."""
    if isinstance(node, exp.JarowinklerSimilarity):
        return exp.Anonymous(
            this="jaro_winkler",
            expressions=[node.this.copy(), node.expression.copy()],
        )
    return node


# The per-engine expressions: DuckDB forms sqlglot does not translate for Spark,
# each a rewrite of one node of the parsed statement. Named, so a reader sees them all.
SPARK_EXPRESSIONS: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "top n values, max(v, n)": _top_n,
    "list_extract and list_sum": _list_functions,
    "whole months, date_sub('month', a, b)": _months_between,
    "distinct count over a window": _distinct_window,
    "jaro_winkler_similarity (Splink's jar on Spark)": _jaro_winkler,
}


def parse(sql: str) -> exp.Expression | None:
    """One statement in DuckDB's dialect (None: not one sqlglot can parse)."""
    try:
        parsed = sqlglot.parse(sql, read=READ)
    except sqlglot.errors.ParseError:
        return None
    if len(parsed) != 1 or parsed[0] is None:
        return None
    return parsed[0]


def to_spark(statement: exp.Expression | str) -> str:
    """The statement in Spark SQL: the named rewrites, then sqlglot's generator."""
    tree = parse(statement) if isinstance(statement, str) else statement.copy()
    if tree is None:
        raise ValueError("not a statement sqlglot can translate")
    for rewrite in SPARK_EXPRESSIONS.values():
        tree = tree.transform(rewrite)
    return tree.sql(dialect=SPARK)


def condition_to_spark(sql: str) -> str:
    """A SQL condition or expression (a Splink comparison level's, a blocking
    rule's) in Spark SQL; ``ELSE``, Splink's catch-all level, stays as it is."""
    if sql.strip().upper() == "ELSE":
        return sql
    tree = sqlglot.parse_one(sql, read=READ)
    for rewrite in SPARK_EXPRESSIONS.values():
        tree = tree.transform(rewrite)
    return tree.sql(dialect=SPARK)


def tables(tree: exp.Expression) -> set[str]:
    """Names of the plain tables (or views) a statement reads or writes, lower case;
    not its common table expressions, table functions or schema-qualified tables."""
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    out = set()
    for t in tree.find_all(exp.Table):
        if isinstance(t.this, exp.Identifier) and not t.db:
            out.add(t.name.lower())
    return out - ctes


def reads_files(tree: exp.Expression) -> bool:
    """Whether the statement reads files (``read_parquet`` and the like): those are
    the local staging files of a release, read where they are, in DuckDB."""
    for node in tree.find_all(exp.Func, exp.Table):
        name = node.sql_name() if isinstance(node, exp.Func) else ""
        text = node.name.lower() if isinstance(node, exp.Anonymous) else name.lower()
        if text.startswith("read_") or isinstance(node, exp.ReadCSV):
            return True
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Literal):
            return True
    return False
