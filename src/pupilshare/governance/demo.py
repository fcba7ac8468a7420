"""The governance steps of ``pupilshare demo``: the seed agreements made live, and
(last) the public register and privacy notice written from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from pupilshare.config import Home
from pupilshare.governance import seeds
from pupilshare.governance.db import session_scope
from pupilshare.governance.models import Agreement
from pupilshare.governance.register import write_register
from pupilshare.store import Store

if TYPE_CHECKING:
    from pupilshare.demo import DemoRun


def nation_las(home: Home, n: int = 2) -> list[str]:
    """The nation's ``n`` largest local authorities (by schools), if collected."""
    if not home.store_path.exists():
        return []
    try:
        with Store(home.store_path, read_only=True) as store:
            if not store.exists("ds_schools"):
                return []
            return [r[0] for r in store.rows(
                "SELECT la_code FROM ds_schools GROUP BY la_code "
                "ORDER BY count(*) DESC, la_code LIMIT ?", [n])]  # fmt: skip
    except duckdb.Error:
        return []


def demo_step(run: DemoRun) -> str:
    """Load seeds.yaml, submit every agreement, record the panel, have the demo Chief
    Statistician decide and activate them; show one refused submission."""
    with session_scope(run.home) as session:
        out = seeds.load_all(session, la_codes=nation_las(run.home))
        recipients = len({session.get(Agreement, a).org_id for a in out.active})
    run.facts["agreements"] = out.active
    run.facts["users"] = out.credentials  # printed at the end of the demo
    refused = "; ".join(f"{k}: {len(v)} reasons" for k, v in out.refused.items())
    for key, reasons in out.refused.items():
        run.console.print(f"  refused submission {key}:", highlight=False)
        for r in reasons:
            run.console.print(f"    - {r}", highlight=False, markup=False)
    return (f"{len(out.active)} agreements active for {recipients} recipients; "
            f"{len(out.refused)} refused submission shown ({refused})")


def register_step(run: DemoRun) -> str:
    """Write the register and privacy notice under HOME/register/."""
    out = run.home.root / "register"
    with session_scope(run.home) as session:
        paths = write_register(session, run.home, out)
    return f"register and privacy notice written to {paths['register_html'].parent}"
