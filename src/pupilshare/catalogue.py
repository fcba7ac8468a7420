"""The data catalogue: every dataset and data item pupilshare knows, declared once.

Validation (``collect``), matching (which fields identify a person), agreements
(which items may be asked for, and how sensitive they are), minimisation, disclosure
control (which items are quasi-identifiers and how they generalise) and the generated
data dictionary all read these declarations; no other module names an item's type,
code set or tier.

Sensitivity tiers follow the national pupil database's scheme (see the domain notes):
1 individual, identifiable and highly sensitive; 2 individual, identifiable and
sensitive; 3 aggregated but may identify through small numbers; 4 individual,
identifiable, not sensitive. The mapping of items to tiers is pupilshare's own choice:
special-category and welfare items (ethnicity, SEN, FSM, first language, health
measurements) are tier 1, attainment and enrolment are tier 2, identity and contact
items are tier 4 and flagged ``identifying``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pupilshare.codesets import CODESETS, CodeSet

ItemType = Literal["text", "code", "date", "integer", "decimal"]
Check = Literal["upn", "uln", "laestab", "postcode", "la_code", "name", "email"]

# DuckDB column type for each item type: the one mapping from catalogue to engine.
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "code": "VARCHAR",
    "date": "DATE",
    "integer": "INTEGER",
    "decimal": "DOUBLE",
}


@dataclass(frozen=True)
class Item:
    """One data item. ``quasi`` marks quasi-identifiers for k-anonymity; ``generalise``
    names the levels it can be coarsened to, least to most general."""

    name: str
    type: ItemType
    description: str
    tier: int
    identifying: bool = False
    quasi: bool = False
    required: bool = False
    codeset: str | None = None
    check: Check | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 100
    derived: bool = False
    generalise: tuple[str, ...] = ()
    dataset: str = ""

    def __post_init__(self) -> None:
        if self.tier not in (1, 2, 3, 4):
            raise ValueError(f"{self.name}: tier must be 1-4")
        if self.type == "code" and self.codeset not in CODESETS:
            raise ValueError(f"{self.name}: unknown code set {self.codeset!r}")

    @property
    def ref(self) -> str:
        """The item's qualified name, ``dataset.item``, used in agreements."""
        return f"{self.dataset}.{self.name}"

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    @property
    def codes(self) -> CodeSet | None:
        return CODESETS[self.codeset] if self.codeset else None


KEY_FUNCTIONS = ("la", "academic_year", "year")


def key_part(part: str) -> tuple[str | None, str]:
    """``(function, item)`` of one part of a return key: ``"laestab"`` is
    ``(None, "laestab")``, ``"la(laestab)"`` is ``("la", "laestab")``."""
    if "(" not in part:
        return None, part
    fn, _, rest = part.partition("(")
    if fn not in KEY_FUNCTIONS or not rest.endswith(")"):
        raise ValueError(
            f"return key part {part!r}: use an item or one of "
            f"{', '.join(f + '(item)' for f in KEY_FUNCTIONS)}"
        )
    return fn, rest[:-1]


@dataclass(frozen=True)
class Dataset:
    """A dataset: what one kind of return or partner file carries.

    ``unique_key`` is what may appear only once within one file (duplicate pupils in a
    return); ``event_date`` is the item that dates the record (for age checks and the
    academic year); ``year_group`` is the item checked against age; ``reference``
    datasets describe places and schools, not pupils, and are never matched.
    ``release_only_where`` is a (coded item, value) that a row must carry to leave the
    store at all, e.g. a parent's consent to be contacted: releases filter on it and
    the output check verifies it.
    ``return_key`` names what identifies one return: its source and its period, as
    items or ``la(item)`` (the LA of a DfE number), ``academic_year(date)`` or
    ``year(date)``. Rows of a later collection with the same key replace the earlier
    ones as a new version (a corrected return); no key means every file stands alone.
    """

    name: str
    title: str
    description: str
    items: tuple[Item, ...]
    unique_key: tuple[str, ...] = ()
    event_date: str | None = None
    year_group: str | None = None
    reference: bool = False
    supplier: str = ""
    release_only_where: tuple[str, str] | None = None
    return_key: tuple[str, ...] = ()
    _by_name: dict[str, Item] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        bound = tuple(Item(**{**i.__dict__, "dataset": self.name}) for i in self.items)
        object.__setattr__(self, "items", bound)
        self._by_name.update({i.name: i for i in bound})
        condition = self.release_only_where[0] if self.release_only_where else None
        keyed = [key_part(p)[1] for p in self.return_key]
        for name in (
            *self.unique_key,
            self.event_date,
            self.year_group,
            condition,
            *keyed,
        ):
            if name is not None and name not in self._by_name:
                raise ValueError(f"{self.name}: {name} is not one of its items")

    def item(self, name: str) -> Item:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no item {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def collected(self) -> tuple[Item, ...]:
        """Items that arrive in the dataset's files, in file column order."""
        return tuple(i for i in self.items if not i.derived)

    @property
    def columns(self) -> list[str]:
        return [i.name for i in self.collected]

    @property
    def table(self) -> str:
        """The store table that holds the dataset's collected rows."""
        return f"ds_{self.name}"


# ----------------------------------------------------------------------------
# Shared item declarations: the person fields every pupil dataset uses for matching.


def _upn(
    required: bool,
    desc: str = "Unique Pupil Number (permanent or temporary)",
) -> Item:
    return Item(
        "upn",
        "text",
        desc,
        4,
        identifying=True,
        required=required,
        check="upn",
        max_length=13,
    )


def _person(required_names: bool = True) -> tuple[Item, ...]:
    return (
        Item(
            "surname",
            "text",
            "Legal surname",
            4,
            identifying=True,
            required=required_names,
            check="name",
        ),
        Item(
            "forename",
            "text",
            "Legal forename(s)",
            4,
            identifying=True,
            required=required_names,
            check="name",
        ),
        Item(
            "date_of_birth",
            "date",
            "Date of birth",
            4,
            identifying=True,
            quasi=True,
            required=True,
            generalise=("month", "year"),
        ),
        Item("sex", "code", "Sex", 4, quasi=True, required=True, codeset="sex"),
    )


def _postcode(required: bool = False) -> Item:
    return Item(
        "postcode",
        "text",
        "Home postcode",
        4,
        identifying=True,
        quasi=True,
        required=required,
        check="postcode",
        max_length=8,
        generalise=("district", "area"),
    )


def _laestab(desc: str = "School DfE number (LA number + establishment)") -> Item:
    return Item(
        "laestab",
        "text",
        desc,
        4,
        quasi=True,
        required=True,
        check="laestab",
        max_length=7,
        generalise=("la_code",),
    )


def _la_code() -> Item:
    return Item(
        "la_code",
        "text",
        "Local authority (3-digit DfE number) of the school",
        4,
        quasi=True,
        derived=True,
        check="la_code",
    )


CENSUS = Dataset(
    "census",
    "School census",
    "Termly school census return: one row per pupil on roll on census day.",
    (
        Item("census_date", "date", "Census day of the return", 4, required=True),
        _laestab(),
        _upn(required=True),
        Item(
            "former_upn",
            "text",
            "Former UPN",
            4,
            identifying=True,
            check="upn",
            max_length=13,
        ),
        Item(
            "uln",
            "text",
            "Unique Learner Number, where known",
            4,
            identifying=True,
            check="uln",
            max_length=10,
        ),
        *_person(),
        Item(
            "former_surname",
            "text",
            "Former surname",
            4,
            identifying=True,
            check="name",
        ),
        _postcode(),
        Item(
            "ethnicity",
            "code",
            "Ethnic group",
            1,
            quasi=True,
            required=True,
            codeset="ethnicity",
            generalise=("major_group",),
        ),
        Item(
            "first_language",
            "code",
            "First language",
            1,
            required=True,
            codeset="first_language",
        ),
        Item(
            "ncyear",
            "code",
            "National Curriculum year group",
            2,
            quasi=True,
            required=True,
            codeset="nc_year",
        ),
        Item(
            "enrol_status",
            "code",
            "Enrolment status",
            2,
            required=True,
            codeset="enrol_status",
        ),
        Item("entry_date", "date", "Date of admission to the school", 2),
        Item(
            "sen_provision",
            "code",
            "SEN provision",
            1,
            quasi=True,
            required=True,
            codeset="sen_provision",
        ),
        Item(
            "fsm_eligible",
            "code",
            "Eligible for free school meals on census day",
            1,
            quasi=True,
            required=True,
            codeset="yes_no",
        ),
        _la_code(),
    ),
    unique_key=("upn",),
    return_key=("laestab", "census_date"),
    event_date="census_date",
    year_group="ncyear",
    supplier="schools",
)

KS_RESULTS = Dataset(
    "ks_results",
    "Key stage assessments",
    "Key stage 1-3 assessment results, one row per pupil, key stage and subject.",
    (
        Item(
            "academic_year",
            "integer",
            "Academic year (its first calendar year)",
            4,
            required=True,
            minimum=2000,
            maximum=2100,
        ),
        Item(
            "assessment_date",
            "date",
            "Date the assessment was recorded",
            4,
            required=True,
        ),
        _laestab(),
        _upn(required=False),
        *_person(),
        Item("key_stage", "code", "Key stage", 2, required=True, codeset="key_stage"),
        Item("subject", "code", "Subject", 2, required=True, codeset="ks_subject"),
        Item(
            "outcome",
            "code",
            "Outcome or teacher assessment",
            2,
            required=True,
            codeset="ks_outcome",
        ),
        Item(
            "scaled_score",
            "integer",
            "Scaled score (KS2 tests; 100 = expected)",
            2,
            minimum=80,
            maximum=120,
        ),
        _la_code(),
        Item(
            "reached_expected",
            "code",
            "Outcome reaches the expected standard",
            2,
            derived=True,
            codeset="yes_no",
        ),
        Item(
            "ethnic_group",
            "text",
            "Ethnicity major group (latest census that year)",
            1,
            quasi=True,
            derived=True,
        ),
        Item(
            "fsm_eligible",
            "code",
            "FSM eligible (latest census that year)",
            1,
            quasi=True,
            derived=True,
            codeset="yes_no",
        ),
        Item(
            "sen_provision",
            "code",
            "SEN provision (latest census that year)",
            1,
            quasi=True,
            derived=True,
            codeset="sen_provision",
        ),
    ),
    unique_key=("upn", "key_stage", "subject"),
    return_key=("la(laestab)", "academic_year", "key_stage"),
    event_date="assessment_date",
    supplier="assessment body",
)

NCMP = Dataset(
    "ncmp",
    "National Child Measurement Programme",
    "Height and weight measured in Reception and Year 6.",
    (
        Item("measurement_date", "date", "Date measured", 4, required=True),
        _laestab(),
        Item(
            "school_year",
            "code",
            "School year measured",
            2,
            quasi=True,
            required=True,
            codeset="ncmp_year",
        ),
        _upn(required=False),
        *_person(),
        _postcode(),
        # Measurements and their proxies are quasi-identifiers (a parent or school
        # knows them; a precise centile with height, weight and sex gives the age).
        Item(
            "height_cm",
            "decimal",
            "Height in centimetres",
            1,
            quasi=True,
            required=True,
            minimum=70,
            maximum=200,
            generalise=("band5", "band10", "band20"),
        ),
        Item(
            "weight_kg",
            "decimal",
            "Weight in kilograms",
            1,
            quasi=True,
            required=True,
            minimum=8,
            maximum=150,
            generalise=("band5", "band10", "band20"),
        ),
        Item(
            "bmi",
            "decimal",
            "Body mass index (kg/m2)",
            1,
            quasi=True,
            derived=True,
            generalise=("integer", "band2", "band5"),
        ),
        Item(
            "bmi_centile",
            "decimal",
            "BMI centile against UK90",
            1,
            quasi=True,
            derived=True,
            generalise=("integer", "category"),
        ),
        Item(
            "weight_category",
            "text",
            "Population monitoring category (underweight, healthy weight, "
            "overweight, obese; obese includes severely obese)",
            1,
            quasi=True,
            derived=True,
        ),
        Item(
            "severely_obese",
            "code",
            "Of which severely obese (BMI centile at or above 99.6th; a subset of "
            "obese)",
            1,
            quasi=True,
            derived=True,
            codeset="yes_no",
        ),
        Item(
            "academic_year",
            "integer",
            "Academic year measured (its first calendar year)",
            4,
            derived=True,
        ),
        Item(
            "age_months",
            "integer",
            "Age in whole months when measured (in place of the birth date, or a "
            "precise centile that would give the age to the day)",
            2,
            quasi=True,
            derived=True,
            generalise=("band6", "band12"),
        ),
        Item(
            "health_area",
            "text",
            "Health area (primary care trust) of home postcode",
            4,
            quasi=True,
            derived=True,
        ),
        _la_code(),
    ),
    unique_key=("surname", "forename", "date_of_birth", "measurement_date"),
    return_key=("la(laestab)", "academic_year(measurement_date)"),
    event_date="measurement_date",
    year_group="school_year",
    supplier="local authorities (NCMP)",
)

QUALIFICATIONS = Dataset(
    "qualifications",
    "Qualification results",
    "Results from awarding organisations for learners aged 14 and over.",
    (
        Item("awarding_body", "text", "Awarding organisation", 4, required=True),
        Item("award_date", "date", "Date awarded", 4, required=True),
        Item(
            "uln",
            "text",
            "Unique Learner Number",
            4,
            identifying=True,
            check="uln",
            max_length=10,
        ),
        *_person(),
        _postcode(),
        Item(
            "qual_type",
            "code",
            "Qualification type",
            2,
            required=True,
            codeset="qual_type",
        ),
        Item("subject", "text", "Subject", 2, required=True, max_length=40),
        Item("grade", "code", "Grade", 2, required=True, codeset="qual_grade"),
    ),
    unique_key=("awarding_body", "uln", "qual_type", "subject", "award_date"),
    return_key=("awarding_body", "year(award_date)"),
    event_date="award_date",
    supplier="awarding organisations",
)

SURVEY_CONTACTS = Dataset(
    "survey_contacts",
    "Survey contact details",
    "Parents' contact details, for drawing samples for statistical surveys.",
    (
        Item(
            "collected_date",
            "date",
            "Date the contact details were collected",
            4,
            required=True,
        ),
        _upn(required=False),
        *_person(),
        _postcode(),
        Item(
            "parent_name",
            "text",
            "Parent or carer's name",
            4,
            identifying=True,
            required=True,
            check="name",
        ),
        Item("address_line", "text", "First line of address", 4, identifying=True),
        Item(
            "parent_email",
            "text",
            "Parent or carer's email",
            4,
            identifying=True,
            check="email",
        ),
        Item(
            "parent_phone",
            "text",
            "Parent or carer's telephone",
            4,
            identifying=True,
            max_length=20,
        ),
        Item(
            "contact_consent",
            "code",
            "Parent agrees to be contacted for surveys",
            2,
            required=True,
            codeset="yes_no",
        ),
    ),
    unique_key=("surname", "forename", "date_of_birth", "parent_name"),
    return_key=("academic_year(collected_date)",),
    event_date="collected_date",
    supplier="schools",
    release_only_where=("contact_consent", "Y"),
)

SURVEY_RESPONSES = Dataset(
    "survey_responses",
    "Survey responses",
    "Answers to a voluntary statistical survey, returned by the survey contractor "
    "and matched to the index like any return (one row per question answered).",
    (
        Item("survey_id", "text", "Survey reference", 4, required=True, max_length=40),
        Item(
            "response_date", "date", "Date the response was received", 4, required=True
        ),
        _upn(required=False),
        *_person(),
        _postcode(),
        Item("question", "text", "Question reference", 4, required=True, max_length=40),
        Item("answer", "text", "Answer given", 2, max_length=200),
    ),
    unique_key=("survey_id", "surname", "forename", "date_of_birth", "question"),
    event_date="response_date",
    supplier="survey contractor",
)

POSTCODES = Dataset(
    "postcodes",
    "Postcode lookup",
    "Postcode to small area, local authority and health area (an ONSPD-like file).",
    (
        Item(
            "postcode",
            "text",
            "Postcode",
            4,
            required=True,
            check="postcode",
            max_length=8,
        ),
        Item("lsoa", "text", "Small area (LSOA)", 4, required=True),
        Item(
            "la_code",
            "text",
            "Local authority (3-digit DfE number)",
            4,
            required=True,
            check="la_code",
        ),
        Item(
            "health_area", "text", "Health area (primary care trust)", 4, required=True
        ),
    ),
    unique_key=("postcode",),
    reference=True,
    supplier="statistics office",
)

SCHOOLS = Dataset(
    "schools",
    "Schools",
    "Register of schools: DfE number, name, local authority and phase.",
    (
        _laestab("School DfE number"),
        Item("school_name", "text", "School name", 4, required=True),
        Item(
            "la_code",
            "text",
            "Local authority (3-digit DfE number)",
            4,
            required=True,
            check="la_code",
        ),
        Item(
            "phase", "text", "Phase (primary, secondary, all-through)", 4, required=True
        ),
    ),
    unique_key=("laestab",),
    reference=True,
    supplier="department",
)

PUPIL = Dataset(
    "pupil",
    "Pupil index",
    "What the pupil index itself can give to a release: a per-agreement pseudonym "
    "and matched identifiers. The internal pupil key never leaves the store.",
    (
        Item(
            "pupil_pseudonym",
            "text",
            "Keyed pseudonym, different for every agreement: 128 bits written "
            "as a UUID (AES-256 of the pupil key)",
            4,
            derived=True,
        ),
        Item(
            "upn", "text", "Current UPN", 4, identifying=True, derived=True, check="upn"
        ),
        Item("uln", "text", "ULN", 4, identifying=True, derived=True, check="uln"),
    ),
    reference=True,
)

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        CENSUS,
        KS_RESULTS,
        NCMP,
        QUALIFICATIONS,
        SURVEY_CONTACTS,
        SURVEY_RESPONSES,
        POSTCODES,
        SCHOOLS,
        PUPIL,
    )
}

# The person fields matching compares, in every pupil dataset that has them.
PERSON_FIELDS = (
    "upn",
    "former_upn",
    "uln",
    "forename",
    "surname",
    "former_surname",
    "date_of_birth",
    "sex",
    "postcode",
)


def dataset(name: str) -> Dataset:
    """The dataset called ``name``; the error lists the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise KeyError(f"unknown dataset {name!r}; known: {known}") from None


def item(ref: str) -> Item:
    """Look up an item by its qualified name ``dataset.item``."""
    ds_name, _, name = ref.partition(".")
    if not name:
        raise KeyError(f"item reference {ref!r} must be dataset.item")
    return dataset(ds_name).item(name)


def pupil_datasets() -> list[Dataset]:
    """Datasets whose rows describe a pupil and are matched to the pupil index."""
    return [d for d in DATASETS.values() if not d.reference]


def all_items() -> list[Item]:
    return [i for d in DATASETS.values() for i in d.items]
