"""Code sets: the allowed values of coded data items, each with its meaning.

The catalogue points items at these by name; validation, the data dictionary and
disclosure control (grouping ethnicity into major groups) all read them from here.
Sources are in ``../shared/domain/README.md``; values marked *unconfirmed* there are
kept as configuration and flagged here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeSet:
    """A named set of codes; ``groups`` maps a code to its roll-up group, if any."""

    name: str
    description: str
    codes: dict[str, str]
    groups: dict[str, str] = field(default_factory=dict)
    unconfirmed: frozenset[str] = frozenset()

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    @property
    def values(self) -> list[str]:
        return list(self.codes)


_ETHNICITY_GROUPS = {
    "White": ["WBRI", "WIRI", "WIRT", "WROM", "WOTH"],
    "Mixed": ["MWBC", "MWBA", "MWAS", "MOTH"],
    "Asian": ["AIND", "APKN", "ABAN", "AOTH"],
    "Black": ["BCRB", "BAFR", "BOTH"],
    "Chinese": ["CHNE"],
    "Other": ["OOTH"],
    "Unknown": ["REFU", "NOBT"],
}
_ETHNICITY_NAMES = {
    "WBRI": "White British",
    "WIRI": "White Irish",
    "WIRT": "Traveller of Irish heritage",
    "WROM": "Gypsy / Roma",
    "WOTH": "Any other White background",
    "MWBC": "White and Black Caribbean",
    "MWBA": "White and Black African",
    "MWAS": "White and Asian",
    "MOTH": "Any other Mixed background",
    "AIND": "Indian",
    "APKN": "Pakistani",
    "ABAN": "Bangladeshi",
    "AOTH": "Any other Asian background",
    "BCRB": "Black Caribbean",
    "BAFR": "Black African",
    "BOTH": "Any other Black background",
    "CHNE": "Chinese",
    "OOTH": "Any other ethnic group",
    "REFU": "Refused",
    "NOBT": "Information not obtained",
}

SEX = CodeSet("sex", "Sex", {"M": "Male", "F": "Female", "U": "Unknown"})
ETHNICITY = CodeSet(
    "ethnicity",
    "Ethnic group (main codes), with major group",
    _ETHNICITY_NAMES,
    {code: group for group, codes in _ETHNICITY_GROUPS.items() for code in codes},
)
SEN_PROVISION = CodeSet(
    "sen_provision",
    "Special educational needs provision",
    {
        "E": "Education, health and care plan",
        "K": "SEN support",
        "N": "No special educational need",
        "S": "Statement (historic)",
        "A": "School Action (historic)",
        "P": "School Action Plus (historic)",
    },
)
YES_NO = CodeSet("yes_no", "Yes or no", {"Y": "Yes", "N": "No"})
ENROL_STATUS = CodeSet(
    "enrol_status",
    "Enrolment status",
    {
        "C": "Current (single registration)",
        "M": "Current main (dual registration)",
        "S": "Current subsidiary (dual registration)",
        "G": "Guest",
        "F": "FE college (unconfirmed)",
        "O": "Other provider (unconfirmed)",
    },
    unconfirmed=frozenset({"F", "O"}),
)
FIRST_LANGUAGE = CodeSet(
    "first_language",
    "First language (summary codes)",
    {
        "ENG": "English",
        "OTH": "Other than English",
        "REF": "Refused",
        "NOT": "Not obtained",
        "ENB": "Believed English (unconfirmed)",
        "OTB": "Believed other than English (unconfirmed)",
    },
    unconfirmed=frozenset({"ENB", "OTB"}),
)
NC_YEAR = CodeSet(
    "nc_year",
    "National Curriculum year group; the value is the pupil's age on 31 August "
    "at the start of the academic year minus 4 (Reception: age 4)",
    {"R": "Reception", **{str(y): f"Year {y}" for y in range(1, 14)}},
)
KEY_STAGE = CodeSet("key_stage", "Key stage", {"1": "KS1", "2": "KS2", "3": "KS3"})
KS_SUBJECT = CodeSet(
    "ks_subject",
    "Key stage subject",
    {
        "READ": "Reading",
        "WRIT": "Writing",
        "MATH": "Mathematics",
        "GPS": "Grammar, punctuation and spelling",
        "SCI": "Science",
        "ENG": "English (KS3)",
    },
)
KS_OUTCOME = CodeSet(
    "ks_outcome",
    "Key stage outcome: test outcomes, teacher assessments and NC levels",
    {
        "AS": "Achieved the expected standard",
        "NS": "Not achieved the expected standard",
        "GDS": "Working at greater depth",
        "EXS": "Working at the expected standard",
        "WTS": "Working towards the expected standard",
        "HNM": "Has not met the expected standard",
        **{f"PK{i}": f"Pre-key stage {i}" for i in range(1, 7)},
        "EM": "Engagement model",
        "A": "Absent",
        "L": "Left",
        "D": "Disapplied",
        **{f"L{i}": f"NC level {i} (unconfirmed)" for i in range(1, 9)},
    },
    unconfirmed=frozenset(f"L{i}" for i in range(1, 9)),
)
# Outcomes that count as reaching the expected standard, for attainment statistics.
KS_EXPECTED = frozenset({"AS", "GDS", "EXS"})
QUAL_GRADE = CodeSet(
    "qual_grade",
    "Qualification grade (GCSE 9-1, A level A*-E, U ungraded)",
    {
        **{str(g): f"GCSE grade {g}" for g in range(9, 0, -1)},
        "A*": "A*",
        "A": "A",
        "B": "B",
        "C": "C",
        "D": "D",
        "E": "E",
        "U": "Ungraded",
    },
)
QUAL_TYPE = CodeSet(
    "qual_type",
    "Qualification type",
    {"GCSE": "GCSE", "ALEVEL": "A level", "VOC": "Vocational qualification"},
)
NCMP_YEAR = CodeSet(
    "ncmp_year", "NCMP school year measured", {"R": "Reception", "6": "Year 6"}
)

CODESETS: dict[str, CodeSet] = {
    c.name: c
    for c in [
        SEX,
        ETHNICITY,
        SEN_PROVISION,
        YES_NO,
        ENROL_STATUS,
        FIRST_LANGUAGE,
        NC_YEAR,
        KEY_STAGE,
        KS_SUBJECT,
        KS_OUTCOME,
        QUAL_GRADE,
        QUAL_TYPE,
        NCMP_YEAR,
    ]
}
