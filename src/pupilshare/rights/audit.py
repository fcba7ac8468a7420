"""``optouts check``: proof, from the ledger and the delivered files, that no pupil
appears in a release made after their opt-out applied to it.

For each release in the ledger (not exempted by a legal duty): the opt-outs in force
when it was made are resolved to pupils; none of their keyed digests may be among
the entry's pupils; every delivered file must still hash as the ledger says (a file
that does not cannot prove anything, so that fails too); and the files themselves
must not hold an opted-out pupil's UPN or this agreement's pseudonym of them.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pupilshare.config import Home
from pupilshare.ledger import keys, log
from pupilshare.rights.identity import resolve_sql
from pupilshare.rights.optouts import ensure, state_sql
from pupilshare.store import Store


def _lit(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def check(store: Store, home: Home) -> tuple[int, list[str]]:
    """(releases checked, problems); no problems is the proof."""
    ensure(store)
    if not store.exists("ledger_entries") or not store.exists("pupils"):
        return 0, []
    entries = store.rows(
        "SELECT entry_index, leaf FROM ledger_entries WHERE kind IN "
        "('release', 'survey_sample') ORDER BY entry_index"
    )
    out_dirs = (
        dict(store.rows("SELECT release_id, out_dir FROM releases"))
        if store.exists("releases")
        else {}
    )
    key = keys.digest_key(home)
    dsql = keys.digest_sql(key, "a.alias_key")
    idents = store.exists("pupil_identifiers")
    problems: list[str] = []
    for index, leaf in entries:
        f = json.loads(bytes(leaf))
        if f.get("opt_out_exemption"):
            continue
        # the opt-outs in force when the release took its snapshot (UTC, to the
        # microsecond; the release's own time is to the second)
        made = datetime.fromisoformat(
            f.get("opt_out_snapshot_at") or f["created_at"]
        ).replace(tzinfo=None)
        scope = f.get("opt_out_scope") or ""
        store.rows(
            "CREATE OR REPLACE TEMP TABLE _oc_state AS "
            f"{state_sql(_lit(made.isoformat(sep=' ')) + '::TIMESTAMP')}"
        )
        store.rows(f"""
            CREATE OR REPLACE TEMP TABLE _oc_keys AS
            SELECT DISTINCT r.pupil_key FROM _oc_state s
            JOIN ({resolve_sql("_oc_state", idents)}) r ON r.subject = s.subject
            WHERE r.matches = 1 AND s.optout_type IN ('all', {_lit(scope)})""")
        hits = store.one(f"""
            SELECT count(DISTINCT a.pupil_key) FROM ({log.aliases_sql(store)}) a
            SEMI JOIN _oc_keys k ON k.pupil_key = a.pupil_key
            WHERE {dsql} IN (SELECT pupil_digest FROM ledger_pupils
                             WHERE entry_index = {int(index)})""")
        name = f"entry {index} ({f.get('release_id')})"
        if hits:
            problems.append(
                f"{name}: {hits} pupil(s) opted out before it was made are in it"
            )
        problems += _files(
            store, home, name, f, out_dirs.get(f.get("release_id")) or f.get("out_dir")
        )
    return len(entries), problems


def _files(
    store: Store, home: Home, name: str, f: dict, out_dir: str | None
) -> list[str]:
    from pupilshare.release.package import sha256_file
    from pupilshare.release.pseudonymise import pseudonyms_for

    if not out_dir:
        return [f"{name}: no delivered files recorded: cannot be proved"]
    problems = []
    for file_name, sha in sorted(f.get("files", {}).items()):
        path = Path(out_dir) / file_name
        if not path.exists() or sha256_file(path) != sha:
            problems.append(
                f"{name}: {file_name} is missing or changed since "
                "delivery: cannot be proved"
            )
            continue
        if not file_name.endswith(".parquet"):
            continue
        cols = [
            r[0]
            for r in store.rows(
                f"DESCRIBE SELECT * FROM read_parquet({_lit(str(path))})"
            )
        ]
        if "upn" in cols:
            n = store.one(
                f"SELECT count(*) FROM read_parquet({_lit(str(path))}) x "
                "SEMI JOIN (SELECT p.upn FROM pupils p SEMI JOIN _oc_keys k "
                "ON k.pupil_key = p.pupil_key) o ON o.upn = x.upn"
            )
            if n:
                problems.append(
                    f"{name}: {file_name} holds {n} row(s) of opted-out pupils (by UPN)"
                )
        if "pupil_pseudonym" in cols and f.get("agreement_id"):
            opted = [int(r[0]) for r in store.rows("SELECT pupil_key FROM _oc_keys")]
            if opted:
                banned = pseudonyms_for(home, f["agreement_id"], opted)
                n = store.one(
                    f"SELECT count(*) FROM read_parquet({_lit(str(path))}) "
                    "WHERE pupil_pseudonym IN (SELECT unnest(?::UUID[]))",
                    [banned],
                )
                if n:
                    problems.append(
                        f"{name}: {file_name} holds {n} row(s) of "
                        "opted-out pupils (by pseudonym)"
                    )
    return problems
