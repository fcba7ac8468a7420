"""The release step of ``pupilshare demo``: every active agreement released once."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pupilshare.errors import Blocked, PupilshareError
from pupilshare.release.runner import release_agreement

if TYPE_CHECKING:
    from pupilshare.demo import DemoRun


def demo_step(run: DemoRun) -> str:
    """Release each active agreement (from governance) into HOME/releases/<id>/: the
    department's own published statistics too, under their agreement."""
    agreements = list(run.facts.get("agreements") or [])
    delivered: list[str] = []
    blocked: dict[str, str] = {}
    failed: dict[str, str] = {}
    for agreement_id in agreements:
        out = run.home.releases_dir / agreement_id
        try:
            m = release_agreement(run.home, agreement_id, out)
            delivered.append(f"{agreement_id} ({m.level}, {m.row_count:,} rows)")
        except Blocked as e:
            blocked[agreement_id] = e.errors[0] if e.errors else e.message
        except PupilshareError as e:
            failed[agreement_id] = e.message
    for name in delivered:
        run.console.print(f"  delivered {name}", highlight=False)
    for key, why in {**blocked, **failed}.items():
        run.console.print(f"  not delivered {key}: {why}", highlight=False)
    run.facts["releases"] = delivered
    levels = Counter(d.split("(")[1].split(",")[0] for d in delivered)
    summary = f"{len(delivered)} releases delivered ({dict(levels)})"
    if blocked:
        first = next(iter(blocked.items()))
        summary += f", {len(blocked)} blocked by the output check "
        summary += f"({first[0]}: {first[1]})"
    if failed:
        summary += f", {len(failed)} not released ({next(iter(failed.values()))})"
    return summary
