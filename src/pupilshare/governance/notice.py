"""The privacy notice, generated from the live agreements so it can never drift from
what is actually shared: who the department passes pupil data to, what, about whom,
under which law and why. Rendered as HTML and as plain text from one structure."""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

from pupilshare import catalogue
from pupilshare.governance.models import Agreement, Organisation

LEVEL_PHRASE = {
    "identified": "in a form that identifies them",
    "pseudonymised": "with names and numbers replaced by a reference used only for "
    "that share",
    "anonymised": "anonymised, so that no pupil can be identified",
    "aggregate": "only as statistical tables that describe no individual pupil",
}
FREQUENCY_PHRASE = {"one-off": "once", "termly": "each term", "annual": "each year"}

INTRO = (
    "The {dept} uses information about pupils for research and statistical purposes, "
    "to inform, influence and improve education policy and to monitor the "
    "performance of the education service as a whole.",
    "Pupil information is passed to other organisations only as the law allows, "
    "under an agreement that names the recipient, the law that allows the share, "
    "its purpose and each item of data with the reason it is needed. Every "
    "agreement is decided by the department's Chief Statistician on the advice of "
    "an approval panel, and each share is made at the least identifying level that "
    "serves its purpose. This notice is generated from those agreements: it lists "
    "every share that is in force today, and nothing else.",
)
# What the notice must say besides the shares (the department's notice of the time):
# how data comes back to authorities and institutions, survey samples and matching
# with survey responses, who the data controller is, subject access and opting out
# of sharing achievements in the personal learning record.
USES = (
    "Pupil information may be matched with other data sources that the {dept} holds, "
    "to model and monitor pupils' educational progression and to provide "
    "comprehensive information back to local authorities and learning institutions "
    "to support their day-to-day business.",
    "The {dept} may also use contact details from these sources to obtain samples "
    "for statistical surveys, carried out by research agencies working under "
    "contract to the {dept}; taking part in such surveys is usually voluntary. The "
    "{dept} may also match data from these sources to data obtained from statistical "
    "surveys (survey responses).",
)
RIGHTS = (
    "The {dept} is the data controller for the purposes of data protection law for "
    "the pupil information described here.",
    "Pupils, as data subjects, have rights under data protection law, including a "
    "right of access to the personal data held about them. Their parents exercise "
    "this right on their behalf if they are too young (under 12) to do so "
    "themselves. To make a subject access request, contact the {dept}: {contact}. "
    "It is answered within one month (extendable by two months for a complex "
    "request).",
    "Where a share below says objections are applied, a pupil or parent may object "
    "and the objection is applied before every later release.",
    "Learners may opt out of sharing their achievement data in their personal "
    "learning record with the organisations the Learning Records Service serves; "
    "how to do so is available from the Learning Records Service.",
)
# The department's contact for subject access, as its notice gave it (configuration).
CONTACT = (
    "Public Communications Unit, Sanctuary Buildings, Great Smith Street, "
    "London SW1P 3BT; email info@education.gsi.gov.uk; telephone 0870 000 2288"
)


def population_phrase(pop: dict[str, Any]) -> str:
    groups = [
        ("Reception" if g.upper() == "R" else f"Year {g}")
        for g in pop.get("year_groups") or []
    ]
    parts = []
    if groups:
        parts.append("pupils in " + _join(groups))
    if pop.get("key_stages"):
        parts.append("at key stage " + _join(list(pop["key_stages"])))
    lo, hi = pop.get("min_age"), pop.get("max_age")
    if lo is not None and hi is not None:
        parts.append(f"aged {lo} to {hi}")
    elif lo is not None:
        parts.append(f"aged {lo} and over")
    elif hi is not None:
        parts.append(f"aged up to {hi}")
    if pop.get("la_codes"):
        parts.append("at schools of local authority " + _join(pop["la_codes"]))
    if not parts:
        return "pupils"
    text = " ".join(parts)
    return text if text.startswith("pupils") else "pupils " + text


def _join(xs: list[str]) -> str:
    xs = list(xs)
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]


def _title(name: str) -> str:
    """A dataset's title inside a sentence: proper names (every word capitalised)
    stay as they are, others are lower-cased."""
    title = catalogue.dataset(name).title
    return title if all(w[0].isupper() for w in title.split()) else title.lower()


def sentence(ag: Agreement) -> str:
    """One agreement as a sentence of the notice."""
    t = ag.spec
    titles = [_title(d) for d in t["datasets"] if d != "pupil"]
    source = f"data from the {_join(titles)}" if titles else "pupil data"
    who = population_phrase(t["population"])
    scope = t["opt_out_scope"].replace("_", " ")
    return (
        f"{ag.organisation.name} receives {source} about {who} "
        f"{FREQUENCY_PHRASE[ag.frequency]}, {LEVEL_PHRASE[ag.level]}, to "
        f"{ag.purpose}. "
        f"The law that allows this is {ag.gateway.statute}, "
        f"{ag.gateway.section}. Where a pupil or parent has objected to sharing "
        f"for {scope}, their records are left out."
    )


def sections(
    agreements: list[Agreement], dept: Organisation | None, today: date
) -> list[tuple[str, list[str]]]:
    """The notice as (heading, paragraphs), one paragraph per recipient."""
    dept_name = dept.name if dept else "department"
    by_org: dict[str, list[Agreement]] = {}
    for ag in agreements:
        by_org.setdefault(ag.org_id, []).append(ag)
    recipients = [
        " ".join(sentence(a) for a in ags)
        + (
            f" More: {ags[0].organisation.website}"
            if ags[0].organisation.website
            else ""
        )
        for ags in by_org.values()
    ]
    return [
        (
            f"What the {dept_name} does with pupils' and children's data",
            [p.format(dept=dept_name) for p in (*INTRO, *USES)],
        ),
        (
            f"Who the {dept_name} passes pupil data to",
            recipients or ["No pupil data is passed to any other organisation today."],
        ),
        ("Your rights", [p.format(dept=dept_name, contact=CONTACT) for p in RIGHTS]),
        (
            "About this notice",
            [
                f"Generated on {today.isoformat()} from {len(agreements)} "
                f"agreements in force with {len(by_org)} organisations."
            ],
        ),
    ]


def as_text(secs: list[tuple[str, list[str]]]) -> str:
    out = []
    for heading, paras in secs:
        out += [heading, "=" * len(heading), ""]
        out += [p + "\n" for p in paras]
    return "\n".join(out)


def _links(escaped: str) -> str:
    return re.sub(r"(https?://[^\s<]+[^\s<.,;)])", r'<a href="\1">\1</a>', escaped)


def as_html(secs: list[tuple[str, list[str]]]) -> str:
    body = []
    for heading, paras in secs:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body += [f"<p>{_links(html.escape(p))}</p>" for p in paras]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Privacy notice</title><style>body{font-family:sans-serif;"
        "max-width:48em;margin:2em auto;line-height:1.5}</style></head><body>\n"
        "<h1>Privacy notice</h1>\n" + "\n".join(body) + "\n</body></html>\n"
    )
