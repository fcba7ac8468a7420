"""An agreement's terms: read from the applicant's YAML, normalised to one JSON shape.

The shape is what is stored, shown, diffed by amendments and turned into a release
plan, so there is one place that knows it. Dates may be written relative to today
(``today``, ``today+365``, ``today-30``) so seeds stay live on any day.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from pupilshare import budget
from pupilshare.errors import InvalidInput
from pupilshare.plan import LEVELS, Sdc

FREQUENCIES = ("one-off", "termly", "annual")
POPULATION_KEYS = (
    "min_age",
    "max_age",
    "year_groups",
    "la_codes",
    "academic_years",
    "key_stages",
    "records_at",
)
KEYS = (
    "id",
    "title",
    "recipient",
    "gateway",
    "purpose",
    "level",
    "frequency",
    "start",
    "expiry",
    "destroy_by",
    "datasets",
    "population",
    "tables",
    "security",
    "users",
    "access_route",
    "opt_out_scope",
    "retention",
    "sdc",
    "conditions",
    "budget",
)
# the terms an agreement's row also holds as columns (``workflow.apply_terms``),
# which the release reads from those columns: a digest covers both copies
COLUMNS = (
    "recipient",
    "gateway",
    "title",
    "purpose",
    "level",
    "frequency",
    "start",
    "expiry",
    "destroy_by",
)
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")  # also a directory name
_RELATIVE = re.compile(r"^today\s*(?:([+-])\s*(\d+))?$")


def read_yaml(path: Path) -> dict[str, Any]:
    """An applicant's file (agreement, amendment or gateway) as a mapping."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise InvalidInput(f"cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a mapping")
    return data


def parse_date(value: Any, today: date) -> date:
    """A date from ``YYYY-MM-DD`` or ``today[+-N]`` (N days)."""
    if isinstance(value, date):
        return value
    text = str(value).strip()
    m = _RELATIVE.match(text)
    if m:
        days = int(m.group(2) or 0)
        return today + timedelta(days=-days if m.group(1) == "-" else days)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"not a date: {text!r} (YYYY-MM-DD or today+N)") from None


def _text(raw: dict[str, Any], key: str, errors: list[str]) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{key}: required")
        return ""
    return " ".join(value.split())


def normalise(raw: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    """Terms in their stored shape; structural problems raise with every reason.

    Whether the terms are *allowed* (gateway, level, catalogue) is ``rules.check``'s
    business; this only makes sure they can be read.
    """
    today = today or date.today()
    if not isinstance(raw, dict):
        raise InvalidInput("an agreement file must be a mapping of terms")
    errors: list[str] = [
        f"{k}: not a term of an agreement" for k in raw if k not in KEYS
    ]
    terms: dict[str, Any] = {
        k: _text(raw, k, errors)
        for k in ("id", "title", "recipient", "gateway", "purpose", "level")
    }
    terms["frequency"] = str(raw.get("frequency", "one-off"))
    for key, default in (("start", "today"), ("expiry", None), ("destroy_by", None)):
        value = raw.get(key, default)
        if value is None:
            errors.append(f"{key}: required")
            terms[key] = None
            continue
        try:
            terms[key] = parse_date(value, today).isoformat()
        except InvalidInput as e:
            errors.append(f"{key}: {e.message}")
            terms[key] = None
    datasets: dict[str, str] = {}
    items: dict[str, str] = {}
    raw_ds = raw.get("datasets") or {}
    if not isinstance(raw_ds, dict) or not raw_ds:
        errors.append("datasets: at least one dataset, each with a justification")
        raw_ds = {}
    for ds, body in raw_ds.items():
        body = body if isinstance(body, dict) else {}
        datasets[str(ds)] = " ".join(str(body.get("justification") or "").split())
        for name, why in (body.get("items") or {}).items():
            items[f"{ds}.{name}"] = " ".join(str(why or "").split())
    terms["datasets"] = datasets
    terms["items"] = items
    pop = raw.get("population") or {}
    unknown = sorted(set(pop) - set(POPULATION_KEYS))
    if unknown:
        errors.append(f"population: unknown keys {', '.join(unknown)}")
    terms["population"] = {
        "min_age": pop.get("min_age"),
        "max_age": pop.get("max_age"),
        "year_groups": [str(y) for y in pop.get("year_groups") or []],
        "la_codes": [str(c) for c in pop.get("la_codes") or []],
        "academic_years": [int(y) for y in pop.get("academic_years") or []],
    }
    if pop.get("key_stages"):  # only when given, so older terms stay the same
        terms["population"]["key_stages"] = [str(k) for k in pop["key_stages"]]
    if pop.get("records_at"):
        at = pop["records_at"]
        if not isinstance(at, dict) or set(at) != {"dataset", "item", "value"}:
            errors.append("population: records_at needs dataset, item and value")
        else:
            terms["population"]["records_at"] = {k: str(v) for k, v in at.items()}
    terms["tables"] = [
        {
            "name": str(t.get("name", "")),
            "dataset": str(t.get("dataset", "")),
            "rows": [str(r) for r in t.get("rows") or []],
            "columns": [str(c) for c in t.get("columns") or []],
            "measure": t.get("measure"),
            "filters": {
                str(k): [str(v) for v in (vs or [])]
                for k, vs in (t.get("filters") or {}).items()
            },
        }
        for t in raw.get("tables") or []
    ]
    for table, given in zip(terms["tables"], raw.get("tables") or [], strict=True):
        if "justification" in given:  # only when given: older terms stay the same
            why = " ".join(str(given.get("justification") or "").split())
            table["justification"] = why
    terms["security"] = [str(s) for s in raw.get("security") or []]
    terms["users"] = [str(u) for u in raw.get("users") or []]
    terms["conditions"] = [str(c) for c in raw.get("conditions") or []]
    terms["access_route"] = str(raw.get("access_route", "secure download"))
    terms["opt_out_scope"] = str(raw.get("opt_out_scope", "research"))
    terms["retention"] = str(raw.get("retention", ""))
    terms["sdc"] = dict(raw.get("sdc") or {})
    errors += sdc_errors(terms["sdc"])
    if raw.get("budget"):  # limits below the service's (``pupilshare.budget``)
        terms["budget"] = dict(raw["budget"])
        errors += budget.errors(terms["budget"])
    if terms["id"] and not ID_PATTERN.match(terms["id"]):
        errors.append("id: lower-case letters, digits and hyphens only (2-64)")
    if terms["level"] and terms["level"] not in LEVELS:
        errors.append(f"level: {terms['level']!r} is not one of {', '.join(LEVELS)}")
    if terms["frequency"] not in FREQUENCIES:
        errors.append(
            f"frequency: {terms['frequency']!r} is not one of {', '.join(FREQUENCIES)}"
        )
    if errors:
        raise InvalidInput(f"agreement {terms['id'] or '?'} cannot be read", errors)
    return terms


def sdc_errors(sdc: dict[str, Any]) -> list[str]:
    """Disclosure-control terms the release engine would refuse, found at submission
    rather than when the first release is built."""
    known = {f.name for f in dataclasses.fields(Sdc)}
    unknown = sorted(set(sdc) - known)
    if unknown:
        return [
            f"sdc: unknown keys {', '.join(unknown)} (known: "
            f"{', '.join(sorted(known))})"
        ]
    try:
        Sdc(**sdc)
    except (TypeError, ValueError) as e:
        return [f"sdc: {e}"]
    return []


NESTED = ("datasets", "items", "population", "sdc")


def flatten(terms: dict[str, Any]) -> dict[str, Any]:
    """Terms as ``key`` / ``key.sub`` pairs, so a diff names exactly what changed."""
    flat: dict[str, Any] = {}
    for key, value in terms.items():
        if isinstance(value, dict) and key in NESTED:
            for sub, v in value.items():
                flat[f"{key}.{sub}"] = v
        else:
            flat[key] = value
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    terms: dict[str, Any] = {"datasets": {}, "items": {}, "population": {}, "sdc": {}}
    for key, value in flat.items():
        head, _, sub = key.partition(".")
        if sub and head in terms and isinstance(terms[head], dict):
            terms[head][sub] = value
        else:
            terms[key] = value
    return terms


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """Each changed term mapped to ``[old, new]`` (None where absent)."""
    a, b = flatten(old), flatten(new)
    return {
        k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    }


def apply_diff(terms: dict[str, Any], changes: dict[str, list[Any]]) -> dict[str, Any]:
    flat = flatten(terms)
    for key, (_old, new) in changes.items():
        if new is None:
            flat.pop(key, None)
        else:
            flat[key] = new
    return unflatten(flat)


def digest(t: dict[str, Any], columns: dict[str, Any] | None = None) -> str:
    """The SHA-256 of the terms as decided: a canonical JSON (keys sorted, no
    spaces) of every stored term (items, population and records_at, level,
    recipient, sdc, opt-out scope, tables, dates, budget...) and of the copies the
    agreement's row keeps as columns (``columns``; the terms' own values when
    none are given, as ``apply_terms`` would write them). The one place a decision's
    terms are fingerprinted: the panel and the Chief Statistician record it, and a
    release refuses terms whose digest is not the approved one."""
    cols = {k: t.get(k) for k in COLUMNS} if columns is None else columns
    text = json.dumps(
        {"terms": t, "columns": cols},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()
