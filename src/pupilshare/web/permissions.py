"""The one table of the web service's routes: who may call each, by route name.

Denied by default: ``guard`` runs before every route; a route missing from ``ROUTES``
is refused to everyone, signed in or not. Each entry is ``PUBLIC`` (anyone, no
sign-in), ``SIGNED_IN`` (any named user) or the permissions of
``governance/access.py`` of which the user must hold one. What a route then shows is
narrowed by the area it calls (a recipient sees only its organisation's agreements
and releases; an officer only their authority's pupils).
"""

from __future__ import annotations

PUBLIC = "public"
SIGNED_IN = "signed_in"
Rule = str | tuple[str, ...]

READ_AGREEMENTS = ("read", "read_own")
PANEL = ("sit_on_panel", "record_panel")

ROUTES: dict[str, Rule] = {
    # the public, without signing in
    "home": PUBLIC,
    "health": PUBLIC,
    "openapi": PUBLIC,
    "register_page": PUBLIC,
    "api_register": PUBLIC,
    "notice_page": PUBLIC,
    "api_notice": PUBLIC,
    "statistics_page": PUBLIC,
    "api_statistics": PUBLIC,
    "accessibility_page": PUBLIC,
    "sign_in_form": PUBLIC,
    "sign_in": PUBLIC,
    "sign_out": PUBLIC,
    # any named user
    "account_page": SIGNED_IN,
    "api_me": SIGNED_IN,
    # applicants and recipients
    "agreements_page": READ_AGREEMENTS,
    "api_agreements": READ_AGREEMENTS,
    "agreement_page": READ_AGREEMENTS,
    "api_agreement": READ_AGREEMENTS,
    "apply_form": "submit",
    "apply_check": "submit",
    "apply_submit": "submit",
    "api_apply_check": "submit",
    "api_apply": "submit",
    "release_page": "download_own",
    "release_file": "download_own",
    "api_releases": "download_own",
    "api_release": "download_own",
    # the approval panel and the Chief Statistician
    "panel_queue": PANEL,
    "api_panel_queue": PANEL,
    "panel_application": PANEL,
    "api_panel_application": PANEL,
    "panel_record": "record_panel",
    "api_panel_record": "record_panel",
    "decide": "decide",
    "api_decide": "decide",
    "activate": "activate",
    "api_activate": "activate",
    # data operations
    "collections_page": "collect",
    "api_collections": "collect",
    "reviews_page": "review",
    "api_reviews": "review",
    "review_page": "review",
    "api_review": "review",
    "review_decide": "review",
    "api_review_decide": "review",
    # local authority officers
    "la_pupils_page": "la_pupils",
    "api_la_pupils": "la_pupils",
    # parents and pupils: anyone may ask (checked before it is answered); an
    # account linked to its pupils follows its own requests and opt-outs
    "your_data_page": PUBLIC,
    "access_request_form": PUBLIC,
    "access_request": PUBLIC,
    "api_access_request": PUBLIC,
    "access_request_received": PUBLIC,
    "my_requests_page": "own_rights",
    "api_my_requests": "own_rights",
    "my_request_page": "own_rights",
    "api_my_request": "own_rights",
    "my_request_pack": "own_rights",
    "my_opt_outs_page": "own_rights",
    "api_my_opt_outs": "own_rights",
    "my_opt_out": "own_rights",
    "api_my_opt_out": "own_rights",
    # the learner service: approved organisations' users; data operations
    "api_lrs_register": "lrs_use",
    "api_lrs_verify": "lrs_use",
    "api_lrs_search": "lrs_use",
    "api_lrs_achievements": "lrs_use",
    "api_lrs_achievements_csv": "lrs_use",
    "api_lrs_learner_achievements": "lrs_use",
    "api_lrs_case": "lrs_use",
    "lrs_operations_page": "lrs_manage",
    "api_lrs_watch": "lrs_manage",
    "api_lrs_corrections": "lrs_manage",
    "api_lrs_correction": "lrs_manage",
    "lrs_correction_decide": "lrs_manage",
    # a learner's own record
    "learner_record_page": "lrs_own_record",
    "api_learner_record": "lrs_own_record",
    "learner_access": "lrs_own_record",
    "learner_opt_out": "lrs_own_record",
    "learner_correction": "lrs_own_record",
    "api_learner_access": "lrs_own_record",
    "api_learner_opt_out": "lrs_own_record",
    "api_learner_correction": "lrs_own_record",
}


def allows(rule: Rule | None, signed_in: bool, may: object) -> bool:
    """Whether a caller passes ``rule``; ``may`` is the actor's ``may`` method."""
    if rule is None:
        return False
    if rule == PUBLIC:
        return True
    if not signed_in:
        return False
    if rule == SIGNED_IN:
        return True
    perms = (rule,) if isinstance(rule, str) else rule
    return any(may(p) for p in perms)  # type: ignore[operator]
