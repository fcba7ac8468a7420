"""People's rights over their records: opt-outs (held apart from the pupil record,
with full history), subject access answered with ledger proofs. Each function opens
the store itself, so the command line and the web service call the same thing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pupilshare.config import Home

__all__ = [
    "account_links",
    "account_opt_outs",
    "account_request",
    "account_requests",
    "check_identity",
    "check_opt_outs",
    "link_account",
    "linked_accounts",
    "opt_out_for_link",
    "opt_out_types",
    "pack_file",
    "request_access",
    "request_for_link",
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
    "survey_step",
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
        sar.ensure(store)  # an older store gains the later columns
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


def check_identity(
    home: Home,
    request_id: str,
    identity_check: str,
    checked_by: str,
    account: str | None = None,
) -> dict[str, Any]:
    """An online request's requester checked: it opens, due a month from today."""
    from pupilshare.rights import sar
    from pupilshare.store import Store

    with Store.open(home) as store:
        got = sar.check_identity(store, request_id, identity_check, checked_by, account)
        sar.prepare(store)
        return got


def link_account(
    home: Home,
    username: str,
    who: Any,
    relation: str,
    identity_check: str,
    linked_by: str,
) -> Any:
    from pupilshare.rights import accounts
    from pupilshare.store import Store

    with Store.open(home) as store:
        return accounts.link(store, username, who, relation, identity_check, linked_by)


def linked_accounts(home: Home) -> list[Any]:
    from pupilshare.rights import accounts
    from pupilshare.store import Store

    with Store.open(home) as store:
        return accounts.links(store)


# -- over an open store: the web service's reads and its few writes -------------
# (it holds the store only for the length of each call: ``web.reader``)


def request_access(
    store: Any,
    who: Any,
    requester: str,
    requester_name: str,
    contact: str,
    child_consent: str | None,
    account: str | None,
) -> str:
    """A request made online by someone not yet checked: recorded (the notice's
    rules applied now), waiting for the department to check who asked."""
    from pupilshare.rights import sar

    return sar.request(
        store,
        who,
        requester,
        requester_name,
        None,
        f"web:{account}" if account else "web",
        child_consent,
        account=account,
        contact=contact,
    )


def request_for_link(
    store: Any, username: str, link_id: int, child_consent: str | None
) -> str:
    """A signed-in account's request about one of its linked pupils: the check
    made when the account was linked stands, so the request opens at once."""
    from pupilshare.rights import accounts, sar

    got = accounts.link_of(store, username, link_id)
    return sar.request(
        store,
        got.who,
        got.requester,
        username,
        got.checked,
        f"web:{username}",
        child_consent,
        account=username,
    )


def account_links(store: Any, username: str) -> list[Any]:
    from pupilshare.rights import accounts

    return accounts.links(store, username)


def account_requests(store: Any, username: str) -> list[dict[str, Any]]:
    from pupilshare.rights import sar

    return sar.requests(store, account=username)


def account_request(store: Any, username: str, request_id: str) -> dict[str, Any]:
    """One request the account follows; any other is unknown to it."""
    from pupilshare.errors import NotFound
    from pupilshare.rights import sar

    try:
        req = sar.get(store, request_id)
    except NotFound:
        req = None
    if req is None or req["account"] != username:
        raise NotFound(f"you have no request {request_id}")
    return req


def pack_file(req: dict[str, Any], kind: str) -> Path | None:
    from pupilshare.rights import sar

    return sar.pack_file(req, kind)


def opt_out_types() -> dict[str, str]:
    from pupilshare.rights.optouts import TYPES

    return dict(TYPES)


def account_opt_outs(store: Any, username: str) -> list[dict[str, Any]]:
    """For each pupil the account is linked to: the opt-outs in force."""
    from pupilshare.rights import accounts, optouts

    return [
        {"link": got.as_json(), "in_force": optouts.in_force(store, got.who)}
        for got in accounts.links(store, username)
    ]


def opt_out_for_link(
    store: Any, username: str, link_id: int, optout_type: str, action: str
) -> Any:
    """Register or withdraw an opt-out for one of the account's linked pupils."""
    from pupilshare.rights import accounts, optouts

    got = accounts.link_of(store, username, link_id)
    return optouts.record(
        store,
        got.who,
        optout_type,
        action,
        got.requester,
        username,
        got.checked,
        f"web:{username}",
    )


def optouts_step(run: Any) -> str:
    """Demo: a few opt-outs registered before the releases."""
    from pupilshare.rights import demo

    return demo.optouts_step(run)


def survey_step(run: Any) -> str:
    """Demo: one survey sample drawn under the survey agreement."""
    from pupilshare.rights import demo

    return demo.survey_step(run)


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
