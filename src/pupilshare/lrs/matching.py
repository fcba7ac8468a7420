"""Finding a learner on the register from their minimum details.

Deterministic keys first (a UPN agreeing with the date of birth; surname, first
forename and date of birth exactly), then candidates from blocking (same date of
birth; same surname and birth year; same postcode and birth year; same UPN) scored
field by field in the Fellegi-Sunter manner: agreement adds weight, disagreement
takes it away, with partial levels for typos (Jaro-Winkler), nicknames (the
curated list ``link`` uses), forename and surname swapped, and day and month
transposed. ``match/`` links whole files with Splink; one learner at a time needs an
answer in well under a millisecond, so the comparison runs here, on the same ideas.

The decision is conservative: a ULN goes back only when one candidate scores
``MATCH`` or more and no other candidate reaches ``POSSIBLE``; anything between is
a possible match, never returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from nicknames import NickNamer
from rapidfuzz.distance import JaroWinkler
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pupilshare.lrs.details import Details
from pupilshare.lrs.models import Learner

MATCH = 10.0
POSSIBLE = 6.0
MAX_CANDIDATES = 200


@dataclass(frozen=True)
class Outcome:
    """``match`` (``learner`` set), ``possible`` (``candidates``) or ``none``."""

    kind: str
    learner: Learner | None = None
    candidates: tuple[int, ...] = ()
    score: float = 0.0


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=4096)
def _nick_set(name: str) -> frozenset[str]:
    n = _namer()
    return frozenset({name} | n.nicknames_of(name) | n.canonicals_of(name))


def _similar(a: str, b: str) -> float:
    return JaroWinkler.similarity(a, b) if a and b else 0.0


def forename_weight(a: str, b: str) -> float:
    if a == b:
        return 3.0
    if b in _nick_set(a) or a in _nick_set(b):
        return 2.0
    if _similar(a, b) >= 0.9:
        return 2.0
    if a[:1] == b[:1] and (len(a) == 1 or len(b) == 1):
        return 0.5  # an initial
    return -2.5


def surname_weight(a: str, b: str) -> float:
    if a == b:
        return 4.0
    if _similar(a, b) >= 0.92:
        return 2.5
    if len(a) >= 3 and len(b) >= 3 and (a in b or b in a):
        return 2.0  # one part of a double-barrelled name
    return -3.5


def dob_weight(a: date, b: date) -> float:
    if a == b:
        return 4.0
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return 1.5  # day and month transposed
    same = (a.year == b.year) + (a.month == b.month) + (a.day == b.day)
    return 0.5 if same == 2 else -4.0


def score(d: Details, c: Learner) -> float:
    """Weight of evidence that ``d`` is the learner ``c``."""
    fw = forename_weight(d.forename_key, c.forename_key)
    sw = surname_weight(d.surname_key, c.surname_key)
    swapped = (
        forename_weight(d.forename_key, c.surname_key)
        + surname_weight(d.surname_key, c.forename_key)
        - 1.0
    )
    total = max(fw + sw, swapped)
    total += dob_weight(d.date_of_birth, c.date_of_birth)
    if "U" not in (d.sex, c.sex):
        total += 1.0 if d.sex == c.sex else -2.0
    if d.postcode == c.postcode:
        total += 2.0
    elif d.postcode[:-3] == c.postcode[:-3]:
        total += 0.5
    if d.upn and c.upn:
        total += 5.0 if d.upn == c.upn else -1.0
    return total


def candidates(session: Session, d: Details) -> list[Learner]:
    """Blocking: everyone who agrees with ``d`` on one of the blocking keys."""
    year = d.date_of_birth.year
    rules = [
        Learner.date_of_birth == d.date_of_birth,
        (Learner.surname_key == d.surname_key) & (Learner.birth_year == year),
        (Learner.postcode == d.postcode) & (Learner.birth_year == year),
        # forename and surname swapped on the register
        (Learner.surname_key == d.forename_key) & (Learner.birth_year == year),
    ]
    if d.upn:
        rules.append(Learner.upn == d.upn)
    return list(
        session.scalars(select(Learner).where(or_(*rules)).limit(MAX_CANDIDATES))
    )


def find(session: Session, d: Details) -> Outcome:
    """The learner ``d`` describes, if exactly one; never a guess."""
    return decide(d, candidates(session, d))


def decide(d: Details, found: list[Learner]) -> Outcome:
    """The decision over the blocked candidates (pure: the rule tests call it)."""
    if not found:
        return Outcome("none")
    scored = sorted(((score(d, c), c) for c in found), key=lambda t: -t[0])
    best, top = scored[0]
    others = [s for s, _ in scored[1:] if s >= POSSIBLE]
    deterministic = any(
        [
            d.upn is not None
            and top.upn == d.upn
            and top.date_of_birth == d.date_of_birth,
            (top.surname_key, top.forename_key, top.date_of_birth)
            == (d.surname_key, d.forename_key, d.date_of_birth),
        ]
    )
    if (best >= MATCH or (deterministic and best >= POSSIBLE)) and not others:
        return Outcome("match", top, (top.learner_id,), best)
    near = tuple(c.learner_id for s, c in scored if s >= POSSIBLE)
    if near:
        return Outcome("possible", None, near, best)
    return Outcome("none", None, (), best)
