"""A learner's minimum details as an organisation sends them: checked field by
field (``field: reason``), normalised for matching. Values never appear in errors."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from pupilshare.errors import InvalidInput
from pupilshare.identifiers import upn_problem

SEXES = ("M", "F", "U")
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
NAME = re.compile(r"^[^\W\d_][^\W\d_ '\-.]*(?:[ '\-.]+[^\W\d_]+)*\.?$")


def name_key(name: str) -> str:
    """Letters only, lower case, accents dropped: 'O'Brien-Smith' -> 'obriensmith'."""
    text = unicodedata.normalize("NFKD", name).casefold()
    return "".join(c for c in text if c.isalpha() and c.isascii())


def postcode_key(postcode: str) -> str:
    return "".join(postcode.split()).upper()


@dataclass(frozen=True)
class Details:
    forenames: str
    surname: str
    date_of_birth: date
    sex: str
    postcode: str
    upn: str | None = None

    @property
    def forename_key(self) -> str:
        first = self.forenames.split()[0] if self.forenames.split() else ""
        return name_key(first)

    @property
    def surname_key(self) -> str:
        return name_key(self.surname)

    def as_json(self) -> dict[str, Any]:
        return {
            "forenames": self.forenames,
            "surname": self.surname,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "postcode": self.postcode,
            "upn": self.upn,
        }


def _name(field: str, value: Any, errors: list[str]) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        errors.append(f"{field}: required")
    elif len(text) > 100:
        errors.append(f"{field}: longer than 100 characters")
    elif not NAME.match(text) or not name_key(text):
        errors.append(f"{field}: letters, spaces, hyphens and apostrophes only")
    return text


def parse_date(field: str, value: Any, errors: list[str], today: date) -> date | None:
    try:
        d = date.fromisoformat(str(value or ""))
    except ValueError:
        errors.append(f"{field}: not a date (YYYY-MM-DD)")
        return None
    if d > today:
        errors.append(f"{field}: in the future")
        return None
    if d.year < 1900:
        errors.append(f"{field}: before 1900")
        return None
    return d


def parse(raw: dict[str, Any], today: date, where: str = "") -> Details:
    """Checked details, or ``InvalidInput`` listing every bad field (prefixed by
    ``where``, e.g. ``file:line:``)."""
    errors: list[str] = []
    forenames = _name("forenames", raw.get("forenames"), errors)
    surname = _name("surname", raw.get("surname"), errors)
    dob = parse_date("date_of_birth", raw.get("date_of_birth"), errors, today)
    sex = str(raw.get("sex") or "").strip().upper()
    if sex not in SEXES:
        errors.append("sex: one of M, F, U")
    postcode = postcode_key(str(raw.get("postcode") or ""))
    if not POSTCODE.match(postcode):
        errors.append("postcode: not a UK postcode")
    upn = str(raw.get("upn") or "").strip().upper() or None
    if upn is not None:
        problem = upn_problem(upn)
        if problem:
            errors.append(f"upn: {problem}")
    if errors:
        raise InvalidInput(
            "the learner's details are not valid", [f"{where}{e}" for e in errors]
        )
    assert dob is not None
    return Details(forenames, surname, dob, sex, postcode, upn)


def age_on(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
