"""The hierarchies published cells roll up along (issue 10 point 5): a school
(LAESTAB) lies in its local authority, a key stage outcome is or is not the expected
standard, a year group lies in a key stage; each chain ends at the nation (or every
pupil), which is a table's Total. ``linked`` and ``finest`` both read it."""

from __future__ import annotations

from collections.abc import Callable

from pupilshare import codesets


def _la(school: str) -> str:
    return school[:3]


def _reached(outcome: str) -> str:
    return "Y" if outcome in codesets.KS_EXPECTED else "N"


def _key_stage(ncyear: str) -> str:
    year = int(ncyear) if ncyear.isdigit() else 0
    return "1" if year <= 2 else "2" if year <= 6 else "3" if year <= 9 else "4"


# child item -> (parent item, the parent of each child category). Each chain ends at
# the nation (or every pupil), which is a table's Total.
HIERARCHY: dict[str, tuple[str, Callable[[str], str]]] = {
    "laestab": ("la_code", _la),
    "outcome": ("reached_expected", _reached),
    "ncyear": ("key_stage", _key_stage),
}


def ancestors(item: str) -> dict[str, Callable[[str], str]]:
    """Every item ``item`` rolls up to, with the mapping from its categories."""
    out: dict[str, Callable[[str], str]] = {}
    step: Callable[[str], str] = lambda v: v  # noqa: E731
    while item in HIERARCHY:
        parent, up = HIERARCHY[item]
        step = _compose(up, step)
        out[parent] = step
        item = parent
    return out


def _compose(f: Callable[[str], str], g: Callable[[str], str]) -> Callable[[str], str]:
    return lambda v: f(g(v))
