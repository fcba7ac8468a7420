"""Finding the one pupil a person's request is about, and checking who may ask.

A request names a pupil by identifiers (UPN or ULN, and always name and date of
birth). It resolves only when exactly one pupil in the index fits every identifier
given: no match or several matches resolve to nobody, so a request can never reach
another pupil's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pupilshare.errors import Denied, InvalidInput
from pupilshare.store import Store

REQUESTERS = ("pupil", "parent")
OWN_RIGHTS_AGE = 12  # the notice: a pupil of 12 or over exercises their own rights


def age_on(born: date, on: date) -> int:
    """Whole years of age on a date (birthdays counted to the day)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True)
class Subject:
    """The identifiers a requester gave for the pupil."""

    forename: str
    surname: str
    date_of_birth: date
    upn: str | None = None
    uln: str | None = None

    @property
    def key(self) -> str:
        """One text per person as given, so repeated requests are recognised."""
        ref = self.upn or self.uln or ""
        return "|".join(
            [
                ref.upper(),
                self.forename.strip().lower(),
                self.surname.strip().lower(),
                self.date_of_birth.isoformat(),
            ]
        )


def subject(
    forename: str | None,
    surname: str | None,
    dob: str | None,
    upn: str | None = None,
    uln: str | None = None,
) -> Subject:
    """Checked identifiers, or ``InvalidInput`` naming every missing or bad one."""
    errors = []
    if not (forename or "").strip():
        errors.append("request:forename: required")
    if not (surname or "").strip():
        errors.append("request:surname: required")
    born = None
    try:
        born = date.fromisoformat(dob or "")
    except ValueError:
        errors.append(f"request:date_of_birth: not a YYYY-MM-DD date: {dob!r}")
    if born and born > date.today():
        errors.append("request:date_of_birth: in the future")
    if errors:
        raise InvalidInput("the pupil is not identified", errors)
    return Subject(
        str(forename).strip(),
        str(surname).strip(),
        born,  # type: ignore[arg-type]
        (upn or "").strip().upper() or None,
        (uln or "").strip() or None,
    )


def check_requester(
    who: Subject,
    requester: str,
    today: date | None = None,
    child_consent: str | None = None,
    access: bool = False,
) -> None:
    """The notice's rule: a parent acts for a child under 12; a pupil of 12 or over
    acts for themself. For subject access (``access``) a parent's request for a
    child of 12 or over needs the child's consent recorded."""
    if requester not in REQUESTERS:
        raise Denied(f"only the pupil or a parent may ask, not {requester!r}")
    age = age_on(who.date_of_birth, today or date.today())
    if requester == "pupil" and age < OWN_RIGHTS_AGE:
        raise Denied(
            f"a pupil under {OWN_RIGHTS_AGE} cannot ask for themself: "
            "a parent asks for them"
        )
    if (
        access
        and requester == "parent"
        and age >= OWN_RIGHTS_AGE
        and not (child_consent or "").strip()
    ):
        raise Denied(
            f"the pupil is {OWN_RIGHTS_AGE} or over: a parent's request "
            "needs the pupil's consent recorded (--child-consent)"
        )


def resolve_sql(table: str, identifiers: bool = True) -> str:
    """(subject, pupil_key, matches) for each row of ``table`` (columns subject, upn,
    uln, forename, surname, date_of_birth); it resolves when ``matches`` is 1.
    ``identifiers``: the index's ``pupil_identifiers`` table exists (former UPNs)."""
    upn_held = (
        "EXISTS (SELECT 1 FROM pupil_identifiers i WHERE i.pupil_key = "
        "p.pupil_key AND i.kind IN ('upn', 'former_upn') AND i.value = r.upn)"
        if identifiers
        else "FALSE"
    )
    uln_held = (
        "EXISTS (SELECT 1 FROM pupil_identifiers i WHERE i.pupil_key = "
        "p.pupil_key AND i.kind = 'uln' AND i.value = r.uln)"
        if identifiers
        else "FALSE"
    )
    return f"""
        WITH cand AS (
            SELECT DISTINCT r.subject, p.pupil_key FROM {table} r
            JOIN pupils p ON p.date_of_birth = r.date_of_birth
             AND lower(p.forename) = lower(r.forename)
             AND lower(p.surname) = lower(r.surname)
            WHERE (r.upn IS NULL OR p.upn = r.upn OR {upn_held})
              AND (r.uln IS NULL OR p.uln = r.uln OR {uln_held}))
        SELECT subject, any_value(pupil_key) AS pupil_key, count(*) AS matches
        FROM cand GROUP BY subject"""


UPN_KINDS = "'upn', 'former_upn'"
ULN_KINDS = "'uln'"
PUPIL = "pupil_key, forename, surname, date_of_birth, upn, uln"


def candidates(store: Store, who: Subject, tables: set[str] | None = None) -> list[int]:
    """The keys of every pupil fitting all the details given, by point reads that
    the store answers from its lookup indexes (``rights.sar.INDEXES``).

    Reading a pupil's text fields one row at a time costs tens of microseconds a
    field (compressed strings), and at national scale some 2,000 pupils share a
    birth date: so a given UPN is looked up first (its holders, current or former,
    and pupils whose UPN it is: at most a few), and only without one are the
    pupils born that day read, their key and surname alone, the rest of the few
    whose surname fits read by key."""
    tables = (
        {r[0] for r in store.rows("SELECT table_name FROM duckdb_tables()")}
        if tables is None
        else tables
    )
    if "pupils" not in tables:
        return []
    idents = "pupil_identifiers" in tables
    held: dict[str, set[int]] = {}
    if who.upn and idents:
        reads = [
            "SELECT 'held', pupil_key, value FROM pupil_identifiers "
            f"WHERE value = ? AND kind IN ({UPN_KINDS})",
            "SELECT 'upn', pupil_key, NULL FROM pupils WHERE upn = ?",
        ]
        params = [who.upn, who.upn]
        if who.uln:
            reads.append(
                "SELECT 'held', pupil_key, value FROM pupil_identifiers "
                f"WHERE value = ? AND kind IN ({ULN_KINDS})"
            )
            params.append(who.uln)
        rows = store.rows(" UNION ALL ".join(reads), params)
        for _, key, value in rows:
            if value is not None:
                held.setdefault(value, set()).add(int(key))
        keys = {int(k) for what, k, v in rows if what == "upn" or v == who.upn}
    else:
        sur = who.surname.lower()
        keys = {
            int(k)
            for k, s in store.rows(
                "SELECT pupil_key, surname FROM pupils WHERE date_of_birth = ?",
                [who.date_of_birth],
            )
            if (s or "").lower() == sur
        }
        given = [(v, k) for v, k in ((who.upn, UPN_KINDS), (who.uln, ULN_KINDS)) if v]
        if keys and given and idents:
            rows = store.rows(
                " UNION ALL ".join(
                    "SELECT pupil_key, value FROM pupil_identifiers "
                    f"WHERE value = ? AND kind IN ({kinds})"
                    for _, kinds in given
                ),
                [v for v, _ in given],
            )
            for key, value in rows:
                held.setdefault(value, set()).add(int(key))
    if not keys:
        return []
    fore, sur = who.forename.lower(), who.surname.lower()
    out = set()
    for key, f, s, born, upn, uln in store.rows(
        " UNION ALL ".join(
            f"SELECT {PUPIL} FROM pupils WHERE pupil_key = {k}" for k in sorted(keys)
        )
    ):
        if (f or "").lower() != fore or (s or "").lower() != sur:
            continue
        if born != who.date_of_birth:
            continue
        if who.upn and not (upn == who.upn or key in held.get(who.upn, ())):
            continue
        if who.uln and not (uln == who.uln or key in held.get(who.uln, ())):
            continue
        out.add(int(key))
    return sorted(out)


def resolve(store: Store, who: Subject) -> tuple[int | None, int]:
    """(the pupil's key or None, how many pupils fit)."""
    found = candidates(store, who)
    return (found[0] if len(found) == 1 else None), len(found)
