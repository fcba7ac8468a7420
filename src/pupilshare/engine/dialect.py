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
        return _filled(
            "((year(b) * 12 + month(b)) - (year(a) * 12 + month(a)) - "
            "CASE WHEN day(b) < day(a) AND b <> last_day(b) THEN 1 ELSE 0 END)",
            a,
            b,
        )
    return node


def _filled(template: str, a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """Spark SQL ``template`` over the columns ``a`` and ``b``, with those two
    placeholders replaced by the given expressions."""
    return sqlglot.parse_one(template, read=SPARK).transform(
        lambda n: (
            a.copy() if _is_column(n, "a") else b.copy() if _is_column(n, "b") else n
        )
    )


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


# DuckDB's jaro_winkler_similarity written in Spark SQL. Splink's jar has a
# ``jaro_winkler`` too, but it counts transpositions otherwise (3 in 100 typo pairs
# score differently, enough to move a pair across a comparison level), so the
# pupil index would differ between the engines. This is DuckDB's algorithm: the
# greedy matching within max(len)/2 - 1 characters, half the out-of-order matches
# as transpositions (rounded down), the Winkler boost of up to 4 common leading
# characters when Jaro is over 0.7, computed as DuckDB's build computes it, with
# one rounding (a fused multiply-add: jaro + l * 0.1 * (1 - jaro), rounded once),
# which ``_FMA`` computes exactly in doubles (Dekker's product and Knuth's sum; the
# same doubles as a true fused multiply-add for every Jaro value of strings up to
# 40 characters, checked exhaustively, 263,340 cases).
_FMA = """transform(array(named_struct('a', s.l * CAST(0.1 AS DOUBLE),
    'b', CAST(1 AS DOUBLE) - jaro)), q -> transform(array(named_struct(
    'p', q.a * q.b, 'ta', CAST(134217729 AS DOUBLE) * q.a,
    'tb', CAST(134217729 AS DOUBLE) * q.b)), r1 -> transform(array(named_struct(
    'ah', r1.ta - (r1.ta - q.a), 'bh', r1.tb - (r1.tb - q.b))), h -> transform(
    array(named_struct('al', q.a - h.ah, 'bl', q.b - h.bh, 's', r1.p + jaro)),
    g -> g.s + (((r1.p - (g.s - (g.s - r1.p))) + (jaro - (g.s - r1.p)))
      + ((((h.ah * h.bh - r1.p) + h.ah * g.bl) + g.al * h.bh) + g.al * g.bl))
    )[0])[0])[0])[0]"""
_W = "greatest(greatest(length(a), length(b)) DIV 2 - 1, 0)"
_JARO_WINKLER = f"""
transform(array(aggregate(
  sequence(1, length(a)),
  named_struct('used', array_repeat(false, length(b)),
    'ma', CAST(array() AS ARRAY<INT>)),
  (acc, i) -> aggregate(
    array(array_min(filter(
      sequence(greatest(1, i - {_W}), least(length(b), i + {_W})),
      k -> k >= greatest(1, i - {_W}) AND k <= least(length(b), i + {_W})
        AND NOT acc.used[k - 1] AND substr(b, k, 1) = substr(a, i, 1)))),
    acc,
    (acc2, j) -> named_struct(
      'used', transform(acc2.used, (u, x) -> u OR x + 1 = coalesce(j, 0)),
      'ma', CASE WHEN j IS NULL THEN acc2.ma ELSE concat(acc2.ma, array(i)) END))
)), r -> transform(array(named_struct(
    'm', size(r.ma),
    't', size(filter(sequence(1, size(r.ma)), k -> k >= 1
      AND substr(a, r.ma[k - 1], 1) <> substr(b, filter(sequence(1, length(b)),
        y -> y >= 1 AND r.used[y - 1])[k - 1], 1))) DIV 2,
    'l', size(filter(sequence(1, least(4, length(a), length(b))),
      k -> k >= 1 AND substr(a, 1, k) = substr(b, 1, k))))),
  s -> transform(array(CASE WHEN s.m = 0 THEN CAST(0 AS DOUBLE)
      ELSE (s.m / length(a) + s.m / length(b) + (s.m - s.t) / s.m) / CAST(3 AS DOUBLE)
      END),
    jaro -> CASE WHEN jaro > CAST(0.7 AS DOUBLE) THEN {_FMA} ELSE jaro END)[0])[0])[0]
"""


def _jaro_winkler(node: exp.Expression) -> exp.Expression:
    """DuckDB ``jaro_winkler_similarity(a, b)``: the same numbers on Spark (see
    ``_JARO_WINKLER``)."""
    if isinstance(node, exp.JarowinklerSimilarity):
        return _filled(_JARO_WINKLER, node.this, node.expression)
    return node


# An upper bound of Jaro-Winkler, cheap beside it: Jaro's matched characters are at
# most the characters of either string found anywhere in the other (m), so Jaro is
# at most (m / |a| + m / |b| + 1) / 3 and Jaro-Winkler, whose boost is at most
# 0.4 (1 - Jaro), at most 0.6 of that plus 0.4. Most pairs Splink compares are
# strangers (random pairs, for u), and their names fall below a threshold by this
# bound alone. NULL (an empty string) passes, to be decided by Jaro-Winkler itself.
_JW_BOUND = """coalesce(transform(array(least(
    size(filter(sequence(1, length(a)), k -> k >= 1 AND k <= length(a)
      AND instr(b, substr(a, k, 1)) > 0)),
    size(filter(sequence(1, length(b)), k -> k >= 1 AND k <= length(b)
      AND instr(a, substr(b, k, 1)) > 0)))),
  m -> 0.6 * (m / length(a) + m / length(b) + 1) / 3 + 0.4)[0] >= {low}, true)"""
# The bound is computed in doubles: a threshold this much lower lets no rounding
# turn away a pair whose Jaro-Winkler reaches the threshold.
_JW_SLACK = 1e-9


def _jaro_winkler_at_least(node: exp.Expression) -> exp.Expression:
    """DuckDB ``jaro_winkler_similarity(a, b) >= t`` (how the match models use it):
    the cheap bound (``_JW_BOUND``) first, then Jaro-Winkler itself where the bound
    allows it; the same truth, most pairs spared the costly part."""
    if (
        isinstance(node, exp.GTE)
        and isinstance(node.this, exp.JarowinklerSimilarity)
        and isinstance(node.expression, exp.Literal)
        and node.expression.is_number
    ):
        jw = node.this
        low = repr(float(node.expression.this) - _JW_SLACK)
        bound = _filled(_JW_BOUND.format(low=low), jw.this, jw.expression)
        both = exp.and_(bound, node.copy())
        # in parentheses unless where a condition stands (AND binds less than NOT)
        plain = (exp.And, exp.Or, exp.Paren, exp.If, exp.Where)
        return (
            both
            if node.parent is None or isinstance(node.parent, plain)
            else (exp.paren(both, copy=False))
        )
    return node


# DuckDB's hamming(a, b): the positions where two strings of one length differ
# (DuckDB refuses strings of different lengths, and empty ones; the model tests the
# lengths first and its fields are NULL, never empty).
# Spark has no such function. ``k >= 1`` drops the 0 that sequence(1, 0) counts
# down to for the empty string.
_HAMMING = """size(filter(sequence(1, length(a)),
    k -> k >= 1 AND substr(a, k, 1) <> substr(b, k, 1)))"""


def _hamming(node: exp.Expression) -> exp.Expression:
    """DuckDB ``hamming(a, b)`` (see ``_HAMMING``)."""
    if (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "hamming"
        and len(node.expressions) == 2
    ):
        return _filled(_HAMMING, *node.expressions)
    return node


# DuckDB's list_has_any(a, b): NULL when either list is NULL, else whether they
# share an element that is not NULL. Spark's arrays_overlap says NULL, not false,
# when they share none and either holds a NULL.
_HAS_ANY = """CASE WHEN a IS NOT NULL AND b IS NOT NULL
    THEN coalesce(arrays_overlap(a, b), false) END"""


def _list_has_any(node: exp.Expression) -> exp.Expression:
    """DuckDB ``list_has_any(a, b)`` (or ``a && b``; see ``_HAS_ANY``): sqlglot
    writes ``&&``, which Spark cannot parse."""
    if isinstance(node, exp.ArrayOverlaps):
        return _filled(_HAS_ANY, node.this, node.expression)
    return node


# The per-engine expressions: DuckDB forms sqlglot does not translate for Spark,
# each a rewrite of one node of the parsed statement. Named, so a reader sees them all.
SPARK_EXPRESSIONS: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "top n values, max(v, n)": _top_n,
    "list_extract and list_sum": _list_functions,
    "whole months, date_sub('month', a, b)": _months_between,
    "distinct count over a window": _distinct_window,
    "jaro_winkler_similarity >= t, a cheap bound first": _jaro_winkler_at_least,
    "jaro_winkler_similarity, DuckDB's numbers": _jaro_winkler,
    "hamming, differing positions": _hamming,
    "list_has_any, a shared element": _list_has_any,
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
