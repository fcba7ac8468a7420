"""Releasing an agreement: the plan from governance (or a JSON file), the decision to
disclose, then ``build_release``."""

from __future__ import annotations

import importlib
from pathlib import Path

from pupilshare.config import Home
from pupilshare.errors import Denied, InvalidInput, NotFound
from pupilshare.release.build import build_release
from pupilshare.release.package import Manifest
from pupilshare.release.plan import ReleasePlan, plan_from_json
from pupilshare.store import Store


def _governance():  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module("pupilshare.governance")
    except ImportError:
        return None


def load_plan(home: Home, agreement_id: str, plan_file: Path | None) -> ReleasePlan:
    if plan_file is not None:
        try:
            plan = plan_from_json(Path(plan_file).read_text())
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InvalidInput(f"cannot read plan {plan_file}: {e}") from None
        if plan.agreement_id != agreement_id:
            raise InvalidInput(f"plan is for {plan.agreement_id}, not {agreement_id}")
        return plan
    gov = _governance()
    if gov is None or not hasattr(gov, "plan_for"):
        raise NotFound("no governance records here: pass --plan plan.json")
    return gov.plan_for(home, agreement_id)


def release_agreement(
    home: Home, agreement_id: str, out: Path, plan_file: Path | None = None,
    user: str | None = None, formats: tuple[str, ...] = ("parquet", "csv"),
) -> Manifest:  # fmt: skip
    """Plan, decide, build and deliver one release."""
    plan = load_plan(home, agreement_id, plan_file)
    gov = _governance()
    # A plan file never bypasses governance: where it exists, it decides.
    if gov is not None and hasattr(gov, "may_disclose"):
        answer = gov.may_disclose(
            home, user, agreement_id, list(plan.items), plan.purpose, action="release"
        )
        if not answer.allowed:
            raise Denied(
                f"governance does not allow releasing {agreement_id}",
                list(getattr(answer, "explanations", ()) or answer.rules),
            )
    with Store.open(home) as store:
        return build_release(store, home, plan, out, formats)


def release_plan(home: Home, plan: ReleasePlan, out: Path) -> Manifest:
    """Build a release from a plan made here (the department's own statistics)."""
    with Store.open(home) as store:
        return build_release(store, home, plan, out)
