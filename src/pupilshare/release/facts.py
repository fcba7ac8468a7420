"""What a release's ledger entry says about opt-outs and the decision, computed from
the same population function the release used."""

from __future__ import annotations

from typing import Any

from pupilshare import catalogue
from pupilshare.config import Home
from pupilshare.ledger import keys, log
from pupilshare.release import population as pop
from pupilshare.rights.optouts import exemption, now, refresh
from pupilshare.store import Store


def ledger_facts(store: Store, home: Home, plan: Any) -> dict[str, Any]:
    """What a release's ledger entry says about opt-outs and the decision: the opt-out
    snapshot (digest of the opt-outs applied), how many pupils they removed, any
    exemption, the policy and agreement versions."""
    taken = now()
    refresh(store)
    dsql = keys.digest_sql(keys.digest_key(home), "pupil_key")
    scope = plan.opt_out_scope.replace("'", "''")
    count, snap = log.pupils_commitment(
        store,
        f"SELECT {dsql} || encode(scope) FROM opt_outs "
        f"WHERE scope IN ('all', '{scope}')",
    )
    tables = {
        r[0] for r in store.rows("SELECT table_name FROM information_schema.tables")
    }
    datasets = sorted(
        {
            *(d for d in plan.datasets() if d != "pupil"),
            *(t.dataset for t in plan.tables),
        }
    )
    parts = [
        f"SELECT {pop.PUPIL_KEY} AS k FROM "
        f"({pop.eligible_sql(plan, d, tables, opted_join='SEMI')})"
        for d in datasets
        if store.exists(catalogue.dataset(d).table)
    ]
    union = " UNION ALL ".join(parts)
    removed = store.one(f"SELECT count(DISTINCT k) FROM ({union})") if parts else 0
    return {
        "opt_out_scope": plan.opt_out_scope,
        "opt_out_snapshot": f"{count}:{snap}",
        "opt_out_snapshot_at": taken.isoformat(),
        "opt_outs_removed": int(removed or 0),
        "opt_out_exemption": exemption(store, plan.agreement_id),
        "policy_version": getattr(plan, "policy_version", ""),
        "agreement_version": agreement_version(home, plan.agreement_id),
    }


def agreement_version(home: Home, agreement_id: str) -> int | None:
    """The agreement's amendment count from the governance records (None for the
    department's own statistics, which have no agreement row)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(home.db_url)
        with engine.connect() as con:
            v = con.execute(
                text("SELECT version FROM agreements WHERE agreement_id = :a"),
                {"a": agreement_id},
            ).scalar()
        engine.dispose()
    except Exception:  # noqa: BLE001  (no governance records here)
        return None
    return int(v) if v is not None else None
