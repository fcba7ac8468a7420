"""Releasing an agreement: governance's approved plan and its decision, then
``build_release``. There is no other way in: no plan file, no plan made here.

A release runs exactly the plan its agreement's decision approved. Anything else is
an amendment to the agreement, decided like any other; so the command takes no plan,
and a release that cannot get governance's answer, for any reason, refuses.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from pupilshare import engine, governance
from pupilshare.config import Home
from pupilshare.errors import Denied, PupilshareError, SampleOnly
from pupilshare.release.build import build_release
from pupilshare.release.package import Manifest

# survey contacts are drawn as a stratified sample (``rights.survey``), never
# released whole
SAMPLED_ONLY = "survey_contacts"

log = logging.getLogger(__name__)


def approval(
    home: Home, agreement_id: str, user: str | None = None, today: date | None = None
) -> governance.Approval:
    """Governance's plan and allowing decision, or ``Denied``: fail closed.

    A refusal governance explains (not active, outside its term) keeps its own
    message; any other failure (records unreadable, policy unparsable, a bug) is a
    denial too, never a reason to go ahead.
    """
    try:
        approved = governance.approved_release(home, user, agreement_id, today)
    except PupilshareError:
        raise
    except Exception as e:  # any failure to answer is a refusal, never a release
        log.debug("governance could not answer for %s", agreement_id, exc_info=True)
        raise Denied(
            f"governance could not answer for {agreement_id}; nothing released",
            [f"{type(e).__name__}: {e}"],
        ) from None
    answer = approved.answer
    if answer is None or answer.allowed is not True:
        raise Denied(
            f"governance does not allow releasing {agreement_id}",
            list(getattr(answer, "explanations", ()) or ()),
        )
    if approved.plan.agreement_id != agreement_id:
        raise Denied(f"governance answered for another agreement than {agreement_id}")
    return approved


def release_agreement(
    home: Home,
    agreement_id: str,
    out: Path,
    user: str | None = None,
    formats: tuple[str, ...] = ("parquet", "csv"),
) -> Manifest:
    """Plan and decide (one governance call), then build and deliver one release."""
    plan = approval(home, agreement_id, user).plan
    if any(i.startswith(SAMPLED_ONLY + ".") for i in plan.items):
        raise SampleOnly(
            f"{agreement_id}: survey contacts leave only as a sample "
            f"(pupilshare survey sample {agreement_id} --size N --out DIR)"
        )
    with engine.open_store(home) as store:
        return build_release(store, home, plan, out, formats)
