"""Minimisation: the columns a release file may carry, and nothing else.

Only the plan's items appear, transformed by the release level: at ``pseudonymised``
names and reference numbers go, date of birth becomes month and year and postcode its
area; ``anonymised`` carries no pupil reference at all. Record order, collection ids and
line numbers never leave the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from pupilshare import catalogue
from pupilshare.plan import ReleasePlan
from pupilshare.release.derive import generalise_sql

PSEUDONYM = "pupil_pseudonym"
# At pseudonymised level these identifying items are coarsened rather than removed.
PSEUDONYMISED_COARSENING = {"date_of_birth": "month", "postcode": "area"}


@dataclass(frozen=True)
class Column:
    """One output column: its name, SQL over the population row ``s``, its item."""

    name: str
    sql: str
    item: str
    quasi: bool = False
    generalise: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    columns: tuple[Column, ...]
    removed: tuple[str, ...]  # plan items not released at this level, with why


def items_for(plan: ReleasePlan, dataset: str) -> list[str]:
    """The plan's items for one dataset file, plus pupil-index items (every file)."""
    return [r for r in plan.items if r.split(".")[0] in (dataset, "pupil")]


def select(plan: ReleasePlan, dataset: str) -> Selection:
    """The columns of ``dataset``'s file at the plan's level."""
    cols: list[Column] = []
    removed: list[str] = []
    level = plan.level
    for ref in items_for(plan, dataset):
        it = catalogue.item(ref)
        if it.dataset == "pupil":
            if it.name == "pupil_pseudonym" and level == "pseudonymised":
                cols.append(Column(PSEUDONYM, f"pm.{PSEUDONYM}", ref))
            elif level == "identified":
                sql = (
                    f"pm.{PSEUDONYM}"
                    if it.name == "pupil_pseudonym"
                    else f"px.{it.name}"
                )
                # The index's UPN/ULN as pupil_upn/pupil_uln: a record's own upn
                # may be released beside it.
                name = PSEUDONYM if it.name == PSEUDONYM else f"pupil_{it.name}"
                cols.append(Column(name, sql, ref))
            else:
                removed.append(f"{ref}: no pupil reference at level {level}")
            continue
        if level == "identified" or not it.identifying:
            cols.append(Column(it.name, f"s.{it.name}", ref, it.quasi, it.generalise))
        elif level == "pseudonymised" and it.name in PSEUDONYMISED_COARSENING:
            to = PSEUDONYMISED_COARSENING[it.name]
            cols.append(
                Column(
                    f"{it.name}_{to}", generalise_sql(to, f"s.{it.name}"), ref, it.quasi
                )
            )
        else:
            removed.append(f"{ref}: identifying, removed at level {level}")
    return Selection(tuple(cols), tuple(removed))


def select_sql(
    selection: Selection, source: str, joins: str = "", where: str = ""
) -> str:
    """SELECT of the chosen columns only (the internal pupil key is not among them)."""
    exprs = ", ".join(f"{c.sql} AS {c.name}" for c in selection.columns)
    return f"SELECT {exprs} FROM {source} s {joins} WHERE {where or 'TRUE'}"


FILED_BY = ("upn", "uln")  # the numbers a recipient files a pupil's records by


def filing_condition(plan: ReleasePlan, selection: Selection) -> str:
    """SQL over the population row: the record carries a number its recipient
    files it by (an identified plan with a UPN or ULN among its items); empty when
    the plan files by none (a contact list). A row without one could not be filed,
    so it is not released (issue 10 point 6)."""
    if plan.level != "identified":
        return ""
    if not {r.split(".", 1)[1] for r in plan.items} & set(FILED_BY):
        return ""
    ids = [c.sql for c in selection.columns if catalogue.item(c.item).name in FILED_BY]
    if not ids:
        return ""  # no number in this file: the check refuses it, naming the file
    return "(" + " OR ".join(f"{e} IS NOT NULL" for e in ids) + ")"
