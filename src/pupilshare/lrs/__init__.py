"""The Learning Records Service: ULN registration and look-up for approved
organisations, achievements in the learner's personal learning record, the
learner's own record, and the abuse watch.

Its records are its own (``lrs_*`` tables in the home's SQL database, written while
the service serves); every answer is recorded before it leaves and sealed into the
disclosure ledger (``journal``). These names are the area's public surface; each
opens its own unit of work, and takes ``at`` (a clock) so tests can replay weeks.
"""

from __future__ import annotations

from pupilshare.lrs.achievements import COLUMNS
from pupilshare.lrs.agreements import ITEMS, ORG_TYPES
from pupilshare.lrs.api import (
    achievements_for,
    add_agreement,
    create_learner_account,
    decide_agreement,
    decide_correction,
    flagged,
    lift_holds,
    list_agreements,
    list_corrections,
    list_reviews,
    my_record,
    now,
    prepare_sealing,
    record_agreement_panel,
    register,
    request_correction,
    resolve_review,
    review_case,
    seal,
    seal_every,
    search,
    set_access,
    set_agreement_status,
    set_opt_out,
    submit_achievements,
    sync_index,
    unsealed,
    verify,
)
from pupilshare.lrs.demo import step as demo_step
from pupilshare.lrs.watch import Suspended, Throttled

__all__ = [
    "COLUMNS",
    "ITEMS",
    "ORG_TYPES",
    "Suspended",
    "Throttled",
    "achievements_for",
    "add_agreement",
    "create_learner_account",
    "decide_agreement",
    "decide_correction",
    "demo_step",
    "my_record",
    "record_agreement_panel",
    "request_correction",
    "resolve_review",
    "review_case",
    "set_access",
    "set_opt_out",
    "submit_achievements",
    "flagged",
    "lift_holds",
    "list_agreements",
    "list_corrections",
    "list_reviews",
    "now",
    "prepare_sealing",
    "register",
    "search",
    "seal",
    "seal_every",
    "set_agreement_status",
    "sync_index",
    "unsealed",
    "verify",
]
