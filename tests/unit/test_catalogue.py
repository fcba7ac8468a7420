"""The catalogue is consistent: every coded item names a code set, refs resolve."""

from __future__ import annotations

import pytest

from pupilshare import catalogue
from pupilshare.codesets import CODESETS


def test_every_item_resolves_by_its_reference() -> None:
    for it in catalogue.all_items():
        assert catalogue.item(it.ref) is it


def test_coded_items_have_known_code_sets() -> None:
    for it in catalogue.all_items():
        if it.type == "code":
            assert it.codeset in CODESETS


def test_pupil_datasets_carry_person_fields_for_matching() -> None:
    for ds in catalogue.pupil_datasets():
        assert {"forename", "surname", "date_of_birth", "sex"} <= set(ds.columns)


def test_unknown_item_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="census has no item 'shoe_size'"):
        catalogue.item("census.shoe_size")


def test_identifying_items_are_never_tier_1_to_3_only_by_accident() -> None:
    # Names, identifiers and contact details are tier 4 and flagged identifying.
    for ref in ["census.upn", "census.surname", "survey_contacts.parent_email"]:
        it = catalogue.item(ref)
        assert it.identifying and it.tier == 4
