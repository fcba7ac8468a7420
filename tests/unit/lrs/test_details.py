"""Hostile details: anything sent is either accepted as clean details or refused
field by field, and no refusal repeats what was sent."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from pupilshare.errors import InvalidInput
from pupilshare.lrs.details import POSTCODE, SEXES, parse

TODAY = date(2026, 12, 4)
anything = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.floats())


@given(
    st.fixed_dictionaries(
        {
            "forenames": anything,
            "surname": anything,
            "date_of_birth": anything,
            "sex": anything,
            "postcode": anything,
            "upn": anything,
        }
    )
)
def test_details_are_clean_or_refused_without_echo(raw: dict) -> None:  # type: ignore[type-arg]
    try:
        d = parse(raw, TODAY)
    except InvalidInput as e:
        assert e.errors
        for line in e.errors:
            field = line.split(":", 1)[0]
            assert field in raw
            value = raw[field]
            if isinstance(value, str) and len(value) > 3:
                assert value not in line.split(":", 1)[1]
        return
    assert d.sex in SEXES
    assert POSTCODE.match(d.postcode)
    assert d.date_of_birth <= TODAY
    assert d.forename_key and d.surname_key
