"""Matching: one pupil index across every pupil dataset.

Exact identifier passes first (UPN, former UPN, ULN agreeing with date of birth),
Splink for the rest, a clerical review queue between the thresholds, ULNs at 14+,
and accuracy against a synthetic nation's truth. These names are the area's public
surface.
"""

from __future__ import annotations

from pupilshare.match.charts import model_charts
from pupilshare.match.link import link_files
from pupilshare.match.report import accuracy, find_truth
from pupilshare.match.review import (
    accept_review,
    list_reviews,
    reject_review,
    show_review,
)
from pupilshare.match.run import MatchResult, run_match
from pupilshare.match.settings import match_settings
from pupilshare.match.status import match_status

__all__ = [
    "MatchResult",
    "accept_review",
    "accuracy",
    "find_truth",
    "link_files",
    "list_reviews",
    "match_settings",
    "match_status",
    "model_charts",
    "reject_review",
    "run_match",
    "show_review",
]
