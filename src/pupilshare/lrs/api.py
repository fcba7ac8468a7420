"""The learner service's public functions (re-exported by ``pupilshare.lrs``): each
opens its own unit of work and takes ``at`` (a clock) so tests can replay weeks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pupilshare.config import Home
from pupilshare.errors import NotFound as PupilshareNotFound
from pupilshare.governance import Principal


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _url(home: Home) -> str:
    from pupilshare.lrs import db

    return db.url_of(home)


def add_agreement(
    home: Home,
    actor: Principal,
    agreement_id: str,
    org_id: str,
    purpose: str,
    monthly_volume: int,
    items: list[str],
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record an organisation's agreement to use the service (data operations);
    the organisation must be in the governance records."""
    from pupilshare import governance
    from pupilshare.lrs import agreements, db

    with governance.session_scope(home) as gs:
        org = governance.show_org(gs, actor, org_id)
    with db.session_scope(home) as s:
        row = agreements.add_agreement(
            s,
            actor,
            agreement_id,
            org_id,
            org["type"],
            purpose,
            monthly_volume,
            items,
            at or now(),
        )
        return _agreement(row)


def _agreement(row: Any) -> dict[str, Any]:
    return {
        "agreement_id": row.agreement_id,
        "org_id": row.org_id,
        "org_type": row.org_type,
        "purpose": row.purpose,
        "monthly_volume": row.monthly_volume,
        "items": list(row.items),
        "status": row.status,
    }


def record_agreement_panel(
    home: Home,
    actor: Principal,
    agreement_id: str,
    views: list[dict[str, Any]],
    at: datetime | None = None,
) -> dict[str, Any]:
    """The approval panel's sitting on a learner-service agreement."""
    from pupilshare.lrs import agreements, db

    with db.session_scope(home) as s:
        d = agreements.record_panel(s, actor, agreement_id, views, at or now())
        return {"agreement_id": agreement_id, "outcome": d.outcome, "by": d.by}


def decide_agreement(
    home: Home,
    actor: Principal,
    agreement_id: str,
    approve: bool,
    reason: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The Chief Statistician's decision on a learner-service agreement."""
    from pupilshare.lrs import agreements, db

    with db.session_scope(home) as s:
        d = agreements.decide(s, actor, agreement_id, approve, reason, at or now())
        return _agreement(agreements._get(s, agreement_id)) | {"outcome": d.outcome}


def list_agreements(home: Home, actor: Principal) -> list[dict[str, Any]]:
    from pupilshare.lrs import agreements, db

    with db.session_scope(home) as s:
        return [_agreement(r) for r in agreements.list_agreements(s, actor)]


def set_agreement_status(
    home: Home, actor: Principal, agreement_id: str, status: str
) -> dict[str, Any]:
    from pupilshare.lrs import agreements, db

    with db.session_scope(home) as s:
        return _agreement(agreements.set_status(s, actor, agreement_id, status))


def register(
    home: Home,
    principal: Principal,
    details: dict[str, Any],
    post14: bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Register a learner: the existing ULN, a new one, or a case for review."""
    from pupilshare.lrs import agreements, db, service

    with db.session_scope(home) as s:
        caller = agreements.caller(s, principal)
        return service.register(s, _url(home), caller, details, post14, at or now())


def verify(
    home: Home,
    principal: Principal,
    uln: str,
    surname: str,
    date_of_birth: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Verify a ULN with the learner's surname and date of birth."""
    from pupilshare.lrs import agreements, db, service

    with db.session_scope(home) as s:
        caller = agreements.caller(s, principal)
        return service.verify(
            s, _url(home), caller, uln, surname, date_of_birth, at or now()
        )


def search(
    home: Home,
    principal: Principal,
    details: dict[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """Find a learner by their details."""
    from pupilshare.lrs import agreements, db, service

    with db.session_scope(home) as s:
        caller = agreements.caller(s, principal)
        return service.search(s, _url(home), caller, details, at or now())


def unsealed(home: Home) -> int:
    """Answers and events not yet in the ledger, and learners' opt-outs not yet
    passed on to the rights area."""
    from sqlalchemy import func, select

    from pupilshare.lrs import db, journal
    from pupilshare.lrs.models import OptOut

    with db.session_scope(home) as s:
        waiting = s.scalar(select(func.count()).where(OptOut.passed_on == 0)) or 0
        return journal.unsealed(s) + int(waiting)


def prepare_sealing() -> None:
    """Import what ``seal`` needs before a service listens (its first seal would
    otherwise import the ledger's writer and pandas while look-ups wait)."""
    from pupilshare import ledger, rights  # noqa: F401 - imported for the service
    from pupilshare.lrs import journal, plr  # noqa: F401

    ledger.prepare_appends()


def seal(home: Home, store: Any) -> int:
    """Seal every recorded answer and watch event into the ledger (``store`` held
    for writing by the caller); how many entries were appended."""
    from sqlalchemy import select

    from pupilshare.lrs import db, journal, watch
    from pupilshare.lrs.models import ServiceAgreement

    total = 0
    while True:
        with db.session_scope(home) as s:
            purposes: dict[str, str] = {
                a: p
                for a, p in s.execute(
                    select(ServiceAgreement.agreement_id, ServiceAgreement.purpose)
                )
            }
            if total == 0:  # opt-outs data operations recorded, honoured here
                from pupilshare import rights
                from pupilshare.lrs import plr

                held = rights.learning_record_opt_outs(store)
                if plr.pass_on(s, store, rights.record_opt_out, held):
                    held = rights.learning_record_opt_outs(store)
                plr.refresh_rights(s, held, now())
                watch.purge(s)  # the abuse watch's counts no rule reads any more
            n = journal.seal(s, store, home, purposes)
        total += n
        if n < journal.BATCH:
            if total:
                from pupilshare import ledger

                ledger.publish_head(store, home)  # the head outside the store too
            return total


def seal_every(home: Home, seconds: float, while_pid: int | None = None) -> None:
    """Seal every ``seconds`` while there is anything to seal, opening the store
    only then and waiting for it a few seconds at most (a command holding it
    defers the seal to the next round); until interrupted, or until process
    ``while_pid`` (the service this sealer serves) has ended.

    ``pupilshare serve`` runs this in a process of its own: a seal's Python work
    in the service's process held the interpreter for tens of milliseconds every
    few seconds while look-ups waited for it."""
    import logging
    import time

    from pupilshare.errors import Busy
    from pupilshare.store import Store

    log = logging.getLogger(__name__)
    while while_pid is None or _alive(while_pid):
        try:
            if unsealed(home):
                with Store.open(home, wait=SEAL_WAIT) as store:
                    seal(home, store)
        except Busy:
            pass  # a command holds the store: next round
        except Exception as e:  # noqa: BLE001 - keep sealing; the rows stay unsealed
            log.warning("sealing the learner service's answers failed: %s", type(e))
        try:
            time.sleep(seconds)
        except KeyboardInterrupt:  # the service was interrupted: so is its sealer
            return


SEAL_WAIT = 5.0  # seconds a seal waits for the store before trying next round


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (an ended one not yet waited for by
    its parent is not running: Linux shows it as state ``Z``)."""
    import os
    from pathlib import Path

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def list_reviews(home: Home, actor: Principal) -> list[dict[str, Any]]:
    """Registrations held for clerical review (data operations)."""
    from sqlalchemy import select

    from pupilshare.lrs import db
    from pupilshare.lrs.models import ReviewCase

    actor.require("lrs_manage", "see the learner service's review queue")
    with db.session_scope(home) as s:
        return [
            {
                "case": c.case_id,
                "org_id": c.org_id,
                "user": c.username,
                "at": c.at.isoformat(timespec="seconds"),
                "candidates": len(c.candidates),
                "status": c.status,
            }
            for c in s.scalars(select(ReviewCase).order_by(ReviewCase.case_id))
        ]


def flagged(home: Home, actor: Principal) -> list[dict[str, Any]]:
    """Organisations the abuse watch flagged, their events and open holds."""
    from pupilshare.lrs import db, watch

    actor.require("lrs_manage", "see the abuse watch")
    with db.session_scope(home) as s:
        return watch.flagged(s)


def lift_holds(
    home: Home,
    actor: Principal,
    org_id: str,
    username: str = "",
    at: datetime | None = None,
) -> int:
    """Lift the watch's throttles and suspensions of a user (or a whole org)."""
    from pupilshare.lrs import db, watch

    actor.require("lrs_manage", "lift the abuse watch's holds")
    with db.session_scope(home) as s:
        return watch.lift(s, org_id, username, actor.username, at or now())


def sync_index(home: Home, actor: Principal, store: Any) -> dict[str, int]:
    """Put every pupil of the index who holds a ULN on the register (once)."""
    from pupilshare.lrs import db, register_index

    actor.require("lrs_manage", "load the register from the pupil index")
    with db.session_scope(home) as s:
        return register_index.sync(s, store, now())


def submit_achievements(
    home: Home,
    principal: Principal,
    rows: list[dict[str, Any]] | str,
    name: str = "request",
    at: datetime | None = None,
) -> dict[str, Any]:
    """An awarding organisation's results against ULNs: a list of rows (JSON) or
    CSV text (``COLUMNS``); all loaded, or none with ``file:line:field:reason``."""
    from pupilshare.lrs import achievements, agreements, db

    at = at or now()
    if isinstance(rows, str):
        pairs = achievements.rows_from_csv(rows, name)
    else:
        pairs = [(f"{name}:{n}", r) for n, r in enumerate(rows, start=1)]
    with db.session_scope(home) as s:
        caller = agreements.caller(s, principal)
        batch = f"{name}@{at.isoformat(timespec='seconds')}"
        return achievements.submit(s, _url(home), caller, pairs, batch, at)


def achievements_for(
    home: Home,
    principal: Principal,
    uln: str,
    surname: str,
    date_of_birth: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A learner's achievements, for an organisation they granted access to."""
    from pupilshare.lrs import achievements, agreements, db

    with db.session_scope(home) as s:
        caller = agreements.caller(s, principal)
        return achievements.shared(
            s, _url(home), caller, uln, surname, date_of_birth, at or now()
        )


def create_learner_account(
    home: Home, actor: Principal, uln: str, username: str, full_name: str = ""
) -> Any:
    """A sign-in for a learner of 14 or over, linked to their ULN (data
    operations): returns what to hand them (``identity.Issued``)."""
    from pupilshare import governance, identity
    from pupilshare.lrs import db, plr

    with db.session_scope(home) as s:
        learner = plr.link_account(s, actor, uln, username, now().date())
        name = full_name or f"{learner.forenames} {learner.surname}"
        with governance.session_scope(home) as gs:
            try:
                governance.show_org(gs, actor, "learners")
            except PupilshareNotFound:
                governance.add_org(
                    gs, actor, "learners", "Learners", "learners", "the register"
                )
            governance.add_user(gs, actor, username, name, "learners", ["learner"])
            return identity.issue(gs, actor, username)


def my_record(
    home: Home, principal: Principal, ledger_entries: Any, at: datetime | None = None
) -> dict[str, Any]:
    """The signed-in learner's PLR. ``ledger_entries(digests)`` reads the ledger's
    entries about them (the caller holds the store, read-only)."""
    from pupilshare import ledger
    from pupilshare.lrs import db, journal, plr

    with db.session_scope(home) as s:
        learner = plr.learner_of(s, principal, (at or now()).date())
        digests = [ledger.digest(home, k) for k in journal.person_keys(learner)]
        return plr.record(s, learner, ledger_entries(digests))


def set_access(
    home: Home,
    principal: Principal,
    org_id: str,
    grant: bool,
    at: datetime | None = None,
) -> None:
    """The learner grants or withdraws an organisation's access to achievements."""
    from pupilshare.lrs import db, plr

    at = at or now()
    with db.session_scope(home) as s:
        learner = plr.learner_of(s, principal, at.date())
        plr.set_access(s, learner, principal.username, org_id, grant, at)


def set_opt_out(
    home: Home, principal: Principal, opt_out: bool, at: datetime | None = None
) -> None:
    """The learner opts out of (or back into) achievement sharing."""
    from pupilshare.lrs import db, plr

    at = at or now()
    with db.session_scope(home) as s:
        learner = plr.learner_of(s, principal, at.date())
        plr.set_opt_out(s, learner, principal.username, opt_out, at)


def request_correction(
    home: Home,
    principal: Principal,
    field: str,
    value: str,
    reason: str,
    at: datetime | None = None,
) -> None:
    """The learner asks for a detail to be corrected (checked by a clerk)."""
    from pupilshare.lrs import db, plr

    at = at or now()
    with db.session_scope(home) as s:
        learner = plr.learner_of(s, principal, at.date())
        plr.request_correction(s, learner, field, value, reason, at)


def resolve_review(
    home: Home,
    actor: Principal,
    case_id: int,
    same_uln: str | None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A clerk's decision on a held registration: one of its candidates (by ULN)
    or, with ``same_uln`` None, a new learner with a new ULN."""
    from pupilshare.lrs import db, reviews

    with db.session_scope(home) as s:
        return reviews.resolve(s, actor, case_id, same_uln, at or now())


def review_case(
    home: Home, principal: Principal, case_id: int, at: datetime | None = None
) -> dict[str, Any]:
    """An organisation's own held registration: open, or resolved with its ULN."""
    from pupilshare.lrs import agreements, db, reviews

    with db.session_scope(home) as s:
        caller = agreements.caller(s, principal)
        return reviews.answer(s, _url(home), caller, case_id, at or now())


def list_corrections(
    home: Home, actor: Principal, status: str = "open"
) -> list[dict[str, Any]]:
    """Learners' correction requests (data operations): ``open``, ``accepted``,
    ``rejected`` or ``all``."""
    from pupilshare.lrs import corrections, db

    with db.session_scope(home) as s:
        return corrections.listed(s, actor, status)


def decide_correction(
    home: Home,
    actor: Principal,
    correction_id: int,
    accept: bool,
    note: str = "",
    at: datetime | None = None,
) -> dict[str, Any]:
    """Accept a learner's correction (the register changes) or reject it with a
    reason the learner sees (data operations)."""
    from pupilshare.lrs import corrections, db

    with db.session_scope(home) as s:
        return corrections.decide(s, actor, correction_id, accept, note, at or now())
