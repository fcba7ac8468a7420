"""Matching's place in the demo and in ``pupilshare status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pupilshare.config import Home
from pupilshare.match.report import accuracy, find_truth
from pupilshare.match.run import run_match
from pupilshare.store import Store

if TYPE_CHECKING:
    from pupilshare.demo import DemoRun


def demo_step(run: DemoRun) -> str:
    """Match the demo nation's collected records; one line of what happened."""
    with Store.open(run.home) as store:
        r = run_match(store, run.home)
        truth = find_truth(store, run.home.root)
        acc = accuracy(store, truth) if truth else None
    run.facts["match"] = {**r.as_dict(), "accuracy": acc}
    line = (
        f"{r.records:,} records -> {r.pupils:,} pupils; {r.review:,} to review; "
        f"{r.ulns_issued:,} ULNs issued; {r.unusable:,} unusable"
    )
    if acc:
        line += f"; F1 {acc['f1']:.4f} against truth"
    return line


def match_status(store: Store, home: Home) -> dict[str, Any]:
    """The index in numbers, for ``status --json``."""
    if not store.exists("pupils"):
        return {"pupils": 0}
    out: dict[str, Any] = {
        "pupils": store.rows("SELECT count(*) FROM pupils")[0][0],
        "links": store.rows("SELECT count(*) FROM pupil_links")[0][0],
    }
    if store.exists("match_review"):
        out["review_pending"] = store.rows(
            "SELECT count(*) FROM match_review WHERE status = 'pending'"
        )[0][0]
    if store.exists("match_unusable"):
        out["unusable"] = store.rows("SELECT count(*) FROM match_unusable")[0][0]
    if store.exists("uln_issued"):
        out["ulns_issued"] = store.rows("SELECT count(*) FROM uln_issued")[0][0]
    if store.exists("match_runs"):
        out["runs"] = store.rows("SELECT count(*) FROM match_runs")[0][0]
    return out

