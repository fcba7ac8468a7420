"""People's rights over their records: opt-outs (held apart from the pupil record,
with full history), subject access answered with ledger proofs. Each function opens
the store itself, so the command line and the web service call the same thing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pupilshare.config import Home

__all__ = [
    "check_opt_outs",
    "exempt",
    "learning_record_opt_outs",
    "record_opt_out",
    "list_opt_outs",
    "opt_out",
    "sar_answer",
    "ledger_step",
    "optouts_step",
    "sar_list",
    "sar_request",
    "sar_step",
    "subject",
    "survey_sample",
]


def subject(
    forename: str | None,
    surname: str | None,
    dob: str | None,
    upn: str | None = None,
    uln: str | None = None,
) -> Any:
    from pupilshare.rights.identity import subject as _subject

    return _subject(forename, surname, dob, upn, uln)


def opt_out(
    home: Home,
    who: Any,
    optout_type: str,
    action: str,
    requester: str,
    requester_name: str,
    identity_check: str,
    recorded_by: str,
) -> Any:
    from pupilshare.rights import optouts
    from pupilshare.store import Store

    with Store.open(home) as store:
        return optouts.record(
            store,
            who,
            optout_type,
            action,
            requester,
            requester_name,
            identity_check,
            recorded_by,
        )


def list_opt_outs(home: Home) -> tuple[list[dict[str, Any]], int]:
    """Every event, and how many registrations wait for their pupil to be matched."""
    from pupilshare.rights import optouts
    from pupilshare.store import Store

    with Store.open(home) as store:
        waiting = optouts.refresh(store)
        return optouts.history(store), waiting


def exempt(home: Home, agreement_id: str, approver: str, legal_duty: str) -> None:
    from pupilshare.rights import optouts
    from pupilshare.store import Store

    with Store.open(home) as store:
        optouts.set_exemption(store, agreement_id, approver, legal_duty)


def check_opt_outs(home: Home) -> tuple[int, list[str]]:
    from pupilshare.rights import audit
    from pupilshare.store import Store

    with Store.open(home) as store:
        return audit.check(store, home)


def sar_request(
    home: Home,
    who: Any,
    requester: str,
    requester_name: str,
    identity_check: str,
    recorded_by: str,
    child_consent: str | None = None,
) -> str:
    from pupilshare.rights import sar
    from pupilshare.store import Store

    with Store.open(home) as store:
        rid = sar.request(
            store,
            who,
            requester,
            requester_name,
            identity_check,
            recorded_by,
            child_consent,
        )
        sar.prepare(store)
        return rid


def sar_answer(home: Home, request_id: str, out: Path, answered_by: str) -> Any:
    from pupilshare.rights import sar
    from pupilshare.store import Store

    with Store.open(home) as store:
        return sar.answer(store, home, request_id, out, answered_by)


def sar_list(home: Home, overdue: bool = False) -> list[dict[str, Any]]:
    from pupilshare.rights import sar
    from pupilshare.store import Store

    with Store.open(home) as store:
        return sar.requests(store, overdue)


def survey_sample(
    home: Home,
    user: str | None,
    agreement_id: str,
    size: int,
    strata: tuple[str, ...],
    seed: int,
    out: Path,
) -> Any:
    """Draw a survey sample under an agreement: its plan and a decision to disclose
    from governance (fail closed), then the draw, recorded in the ledger."""
    from pupilshare.release.runner import approval
    from pupilshare.rights import survey
    from pupilshare.store import Store

    plan = approval(home, agreement_id, user).plan  # fails closed, like a release
    with Store.open(home) as store:
        return survey.draw(store, home, plan, size, strata, seed, out)


def optouts_step(run: Any) -> str:
    """Demo: a few opt-outs registered before the releases."""
    from pupilshare.rights import demo

    return demo.optouts_step(run)


def sar_step(run: Any) -> str:
    """Demo: one subject access request answered with its proofs."""
    from pupilshare.rights import demo

    return demo.sar_step(run)


def ledger_step(run: Any) -> str:
    """Demo: the ledger verified, opt-outs proved, the signed checkpoint printed."""
    from pupilshare.rights import demo

    return demo.ledger_step(run)


def learning_record_opt_outs(store: Any) -> list[dict[str, Any]]:
    """Opt-outs of achievement sharing in force (for the learner service), over a
    store the caller holds."""
    from pupilshare.rights import optouts

    return optouts.learning_records(store)


def record_opt_out(
    store: Any,
    who: Any,
    optout_type: str,
    action: str,
    requester: str,
    requester_name: str,
    identity_check: str,
    recorded_by: str,
) -> Any:
    """``opt_out`` over a store the caller already holds (the learner service
    passes on the opt-outs learners give on their own page)."""
    from pupilshare.rights import optouts

    return optouts.record(
        store,
        who,
        optout_type,
        action,
        requester,
        requester_name,
        identity_check,
        recorded_by,
    )
