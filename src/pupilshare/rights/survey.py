"""Survey samples: a reproducible stratified random sample of parents' contact
details, drawn only from parents who agreed to be contacted and did not opt out of
survey contact, and recorded in the ledger like any disclosure.

Strata (``STRATA``): ``region`` (the DfE local authority number's hundreds group:
the numbering runs by region), ``school_type`` (the phase of the pupil's latest
census school) and ``fsm`` (free school meals at the latest census). Allocation is
proportional with largest remainders; within a stratum pupils are ordered by
MD5(seed:pupil key), so the same seed draws the same sample from the same store.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pupilshare import catalogue
from pupilshare.config import Home
from pupilshare.errors import InvalidInput
from pupilshare.ledger import log
from pupilshare.release import delivery, package
from pupilshare.release import population as pop
from pupilshare.store import Store

DATASET = "survey_contacts"
STRATA = ("region", "school_type", "fsm")


@dataclass
class Sample:
    out_dir: Path
    size: int
    strata: dict[str, int]
    entry_index: int


def _attrs_sql(store: Store) -> str:
    """pupil_key -> region, school_type, fsm from the latest census record."""
    if not store.exists("ds_census"):
        return (
            "SELECT NULL::BIGINT AS pupil_key, NULL AS region, "
            "NULL AS school_type, NULL AS fsm WHERE FALSE"
        )
    schools = (
        "LEFT JOIN ds_schools s ON s.laestab = c.laestab"
        if store.exists("ds_schools")
        else ""
    )
    phase = "s.phase" if schools else "NULL"
    return f"""
        SELECT l.pupil_key, substr(c.laestab, 1, 1) || '00s' AS region,
               {phase} AS school_type, c.fsm_eligible AS fsm
        FROM ds_census c JOIN pupil_links l ON l.dataset = 'census'
         AND l.collection_id = c.collection_id AND l.line = c.line
        {schools}
        QUALIFY row_number() OVER (PARTITION BY l.pupil_key
                                   ORDER BY c.census_date DESC, c.line DESC) = 1"""


def _refused_sql(store: Store) -> str:
    """Pupils whose latest survey contact record does not agree to contact."""
    ds = catalogue.dataset(DATASET)
    item, value = ds.release_only_where or ("contact_consent", "Y")
    if not (store.exists(ds.table) and store.exists("pupil_links")):
        return "SELECT NULL::BIGINT AS pupil_key WHERE FALSE"
    return f"""
        SELECT l.pupil_key FROM {ds.table} d JOIN pupil_links l
          ON l.dataset = '{DATASET}' AND l.collection_id = d.collection_id
         AND l.line = d.line
        QUALIFY row_number() OVER (PARTITION BY l.pupil_key
                                   ORDER BY d.{ds.event_date} DESC, d.line DESC) = 1
            AND d.{item} IS DISTINCT FROM '{value}'"""


def sample_sql(
    view: str,
    attrs: str,
    strata: tuple[str, ...],
    size: int,
    seed: int,
    columns: list[str],
    refused: str = "SELECT NULL::BIGINT AS pupil_key WHERE FALSE",
) -> str:
    """Pure: the sample rows (contact columns plus strata; only the contact columns
    are delivered). ``refused`` selects pupils whose latest contact record withdrew
    consent: an older record that agreed does not bring them back."""
    part = ", ".join(strata) or "'all'"
    cols = ", ".join(f"c.{c}" for c in columns)
    strat = ", ".join(
        f"coalesce(CAST(a.{s} AS VARCHAR), 'unknown') AS {s}" for s in strata
    )
    return f"""
        WITH one AS (SELECT * FROM {view} QUALIFY row_number() OVER (
                PARTITION BY {pop.PUPIL_KEY} ORDER BY collected_date DESC, line DESC)
                = 1),
        framed AS (SELECT {cols}{", " + strat if strata else ""},
                          c.{pop.PUPIL_KEY} AS pupil_key,
                          md5('{int(seed)}:' || c.{pop.PUPIL_KEY}) AS draw
                   FROM one c LEFT JOIN ({attrs}) a
                     ON a.pupil_key = c.{pop.PUPIL_KEY}
                   ANTI JOIN ({refused}) r ON r.pupil_key = c.{pop.PUPIL_KEY}),
        sizes AS (SELECT {part}, count(*) AS n_h,
                         {int(size)} * count(*) / sum(count(*)) OVER () AS quota
                  FROM framed GROUP BY ALL),
        alloc AS (SELECT *, least(n_h, floor(quota) + CASE WHEN row_number() OVER (
                      ORDER BY quota - floor(quota) DESC, {part}) <=
                      {int(size)} - sum(floor(quota)) OVER () THEN 1 ELSE 0 END)
                      AS take FROM sizes)
        SELECT f.* EXCLUDE (draw) FROM framed f JOIN alloc USING ({part})
        QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY f.draw) <= alloc.take
        ORDER BY {part}, f.draw"""


def draw(
    store: Store,
    home: Home,
    plan: object,
    size: int,
    strata: tuple[str, ...],
    seed: int,
    out: Path,
) -> Sample:
    """Draw, write (CSV and Parquet, delivered whole by rename) and record."""
    bad = [s for s in strata if s not in STRATA]
    if bad or size < 1:
        raise InvalidInput(
            "survey sample: "
            + "; ".join(
                [f"unknown stratum {b!r} (one of {', '.join(STRATA)})" for b in bad]
                + ([f"--size must be 1 or more, not {size}"] if size < 1 else [])
            )
        )
    items = [r.split(".", 1)[1] for r in plan.items if r.startswith(DATASET + ".")]
    if not items:
        raise InvalidInput(f"{plan.agreement_id} holds no {DATASET} items")
    out = Path(out).resolve()
    known = {i.name for i in catalogue.dataset(DATASET).collected}
    columns = [c for c in items if c in known]
    view = pop.eligible(store, plan, DATASET)
    sql = sample_sql(
        view, _attrs_sql(store), strata, size, seed, columns, _refused_sql(store)
    )
    store.rows(f"CREATE OR REPLACE TEMP TABLE _survey_sample AS {sql}")
    label = ", ".join(strata) or "'all'"
    counts = dict(
        store.rows(
            f"SELECT concat_ws('/', {label}), count(*) "
            "FROM _survey_sample GROUP BY ALL ORDER BY 1"
        )
    )
    rid = f"{plan.agreement_id}-sample-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    # delivered as a release is: staged beside the target, renamed into place in
    # the transaction that appends its ledger entry (``release.delivery``)
    staging = delivery.prepare(store, home, rid, out)
    try:
        names = package.write_sql(
            store,
            staging,
            "sample",
            f"SELECT {', '.join(columns)} FROM _survey_sample",  # contacts only
            ("parquet", "csv"),
        )
        files = package.describe_files(store, staging, names)
        total = sum(f.rows for f in files if f.name.endswith(".parquet"))
        with store.transaction():
            index = log.append(
                store,
                home,
                {
                    "kind": "survey_sample",
                    "release_id": rid,
                    "agreement_id": plan.agreement_id,
                    "recipient": plan.recipient,
                    "gateway": plan.gateway,
                    "purpose": plan.purpose,
                    "level": plan.level,
                    "items": sorted(plan.items),
                    "row_count": total,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "files": {f.name: f.sha256 for f in files},
                    "out_dir": str(out),
                    "opt_out_scope": plan.opt_out_scope,
                    "sample": {
                        "size": size,
                        "strata": list(strata),
                        "seed": seed,
                        "drawn": counts,
                    },
                    "policy_version": getattr(plan, "policy_version", ""),
                },
                "SELECT pupil_key FROM _survey_sample",
            )
            delivery.move_into_place(store, rid, staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        store.rows("DELETE FROM release_pending WHERE release_id = ?", [rid])
        raise
    os.chmod(out, 0o700)
    return Sample(out, total, counts, index)
