"""Pupil and learner identifiers: UPN check letters, ULN check digits, ULN issue.

Each rule is written once in Python (for single values and tests) and once as a DuckDB
SQL expression (so collection checks millions of rows inside the engine); the property
tests prove the two agree. The facts come from the domain notes (Government Data
Standards Catalogue for UPN; ILR rule DerivedData_15 for ULN).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # no I, O, S; index 0..22


def _ranges(spec: str) -> frozenset[str]:
    out: set[str] = set()
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(f"{n:03d}" for n in range(int(lo), int(hi or lo) + 1))
    return frozenset(out)


# LA numbers accepted in UPN characters 2-4 (school census error 1530 list).
LA_NUMBERS = _ranges(
    "1-5,201-213,301-320,330-336,340-344,350-359,370-373,380-384,390-394,420,"
    "660-681,701-708,800-803,805-808,810-813,815,816,820-823,825,826,830,831,"
    "835-837,840,841,845,846,850-852,855-857,860,861,865-896,908,909,916,919,921,"
    "925,926,928,929,931,933,935-938"
)

_UPN_SHAPE = re.compile(r"^[A-HJ-NP-RT-Z]\d{11}[\dA-HJ-NP-RT-Z]$")
TEMPORARY_ULN = "9999999999"


def upn_check_letter(body: str) -> str:
    """The check letter for the 12 characters after it (positions 2..13)."""
    if len(body) != 12:
        raise ValueError("a UPN body is 12 characters")
    total = 0
    for pos, ch in zip(range(2, 14), body, strict=True):
        value = int(ch) if ch.isdigit() else UPN_LETTERS.index(ch)
        total += pos * value
    return UPN_LETTERS[total % 23]


def is_temporary_upn(upn: str) -> bool:
    return len(upn) == 13 and upn[12].isalpha()


def upn_problem(upn: str) -> str | None:
    """Why ``upn`` is not a valid UPN, or None if it is (permanent or temporary)."""
    if len(upn) != 13:
        return "UPN must be 13 characters"
    if not _UPN_SHAPE.match(upn):
        return "UPN must be a letter, 11 digits and a digit or letter (no I, O, S)"
    if upn[1:4] not in LA_NUMBERS:
        return "UPN characters 2-4 are not an LA number (census error 1530)"
    if upn[0] != upn_check_letter(upn[1:]):
        return "UPN check letter is wrong (census error 1510)"
    return None


def is_valid_upn(upn: str) -> bool:
    return upn_problem(upn) is None


def make_upn(la: int, estab: int, year: int, serial: int | str) -> str:
    """Build a UPN; a string serial of two digits and a letter makes a temporary one."""
    tail = serial if isinstance(serial, str) else f"{serial:03d}"
    body = f"{la:03d}{estab:04d}{year % 100:02d}{tail}"
    return upn_check_letter(body) + body


def uln_check_digit(stem: str) -> int | None:
    """Check digit for a 9-digit stem, or None when the stem cannot be used."""
    if len(stem) != 9 or not stem.isdigit():
        raise ValueError("a ULN stem is 9 digits")
    r = sum(int(d) * (10 - i) for i, d in enumerate(stem)) % 11
    return None if r == 0 else 10 - r


def uln_problem(uln: str) -> str | None:
    """Why ``uln`` is not a valid ULN, or None if it is."""
    if len(uln) != 10 or not uln.isdigit():
        return "ULN must be 10 digits"
    if uln[0] == "0":
        return "ULN must not start with 0"
    if sum(int(d) * w for d, w in zip(uln, range(10, 0, -1), strict=True)) % 11 != 10:
        return "ULN check digit is wrong"
    return None


def is_valid_uln(uln: str) -> bool:
    return uln_problem(uln) is None


class UlnIssuer:
    """Issues ULNs from a sequence of stems, never the same number twice.

    The issuer's state is the next stem and the set of numbers already in use (issued
    here or adopted from records that carried one). ``persist`` is called with each
    number before it is returned, so a caller can write it inside the same transaction
    that records the issue; a crash then loses both or neither.
    """

    def __init__(
        self,
        next_stem: int = 100_000_000,
        in_use: Iterable[str] = (),
        persist: Callable[[str], None] | None = None,
    ) -> None:
        self.next_stem = next_stem
        self.in_use = set(in_use)
        self._persist = persist

    def issue(self) -> str:
        while self.next_stem <= 999_999_999:
            stem = f"{self.next_stem:09d}"
            self.next_stem += 1
            digit = uln_check_digit(stem)
            if digit is None or digit == 10:
                continue  # unusable stem, or one that would need an 11th digit
            uln = f"{stem}{digit}"
            if uln in self.in_use or uln == TEMPORARY_ULN:
                continue
            self.in_use.add(uln)
            if self._persist is not None:
                self._persist(uln)
            return uln
        raise RuntimeError("ULN stems exhausted")

    def adopt(self, uln: str) -> None:
        """Record a number issued elsewhere, so it is never issued here."""
        self.in_use.add(uln)


# ----------------------------------------------------------------------------
# The same rules as DuckDB SQL expressions over a column, for validation in the engine.


def permanent_upn_sql(col: str) -> str:
    """A well-formed UPN is permanent when it ends in a digit (a temporary one ends
    in a letter)."""
    return f"regexp_matches(substr({col}, 13, 1), '[0-9]')"


def _la_list_sql() -> str:
    return ", ".join(f"'{n}'" for n in sorted(LA_NUMBERS))


def upn_problem_sql(col: str) -> str:
    """SQL giving the reason a UPN column value is invalid, or NULL when valid."""
    letters = UPN_LETTERS
    # Weighted sum of positions 2..13: digits count their value, a letter in position
    # 13 counts its index in the check-letter table.
    terms = [
        f"{pos} * CAST(substr({col}, {pos}, 1) AS INTEGER)" for pos in range(2, 13)
    ]
    last = (
        f"13 * (CASE WHEN regexp_matches(substr({col}, 13, 1), '[0-9]') "
        f"THEN CAST(substr({col}, 13, 1) AS INTEGER) "
        f"ELSE strpos('{letters}', substr({col}, 13, 1)) - 1 END)"
    )
    total = " + ".join([*terms, last])
    return (
        f"CASE WHEN {col} IS NULL THEN NULL "
        f"WHEN length({col}) <> 13 THEN 'UPN must be 13 characters' "
        f"WHEN NOT regexp_full_match({col}, '{_UPN_SHAPE.pattern[1:-1]}') "
        "THEN 'UPN must be a letter, 11 digits and a digit or letter (no I, O, S)' "
        f"WHEN substr({col}, 2, 3) NOT IN ({_la_list_sql()}) "
        "THEN 'UPN characters 2-4 are not an LA number (census error 1530)' "
        f"WHEN substr({col}, 1, 1) <> substr('{letters}', (({total}) % 23) + 1, 1) "
        "THEN 'UPN check letter is wrong (census error 1510)' "
        "ELSE NULL END"
    )


def uln_problem_sql(col: str) -> str:
    """SQL giving the reason a ULN column value is invalid, or NULL when valid."""
    total = " + ".join(
        f"{w} * CAST(substr({col}, {i + 1}, 1) AS INTEGER)"
        for i, w in enumerate(range(10, 0, -1))
    )
    return (
        f"CASE WHEN {col} IS NULL THEN NULL "
        f"WHEN NOT regexp_full_match({col}, '[0-9]{{10}}') "
        "THEN 'ULN must be 10 digits' "
        f"WHEN substr({col}, 1, 1) = '0' THEN 'ULN must not start with 0' "
        f"WHEN ({total}) % 11 <> 10 THEN 'ULN check digit is wrong' "
        "ELSE NULL END"
    )
