"""The ledger over real releases: one entry per release appended with its record,
verify naming each kind of tampering, proofs outsiders can check, the kill drill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pupilshare import ledger
from pupilshare.config import Home
from pupilshare.errors import InvalidInput
from pupilshare.ledger import keys, log, merkle, tree
from pupilshare.plan import ReleasePlan, TableSpec
from pupilshare.release import population
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world as sample

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan

PSEUDO = ReleasePlan(
    "AGR-1",
    "University",
    "SI 2009/1563",
    "research",
    "pseudonymised",
    (
        "ks_results.academic_year",
        "ks_results.subject",
        "ks_results.outcome",
        "pupil.pupil_pseudonym",
    ),
)
AGG = ReleasePlan(
    "AGR-CQC",
    "Care Quality Commission",
    "SI 2009/1563",
    "health",
    "aggregate",
    ("ncmp.la_code", "ncmp.weight_category"),
    tables=(TableSpec("by_la", "ncmp", ("la_code",), ("weight_category",)),),
    opt_out_scope="health",
)


@pytest.fixture
def released(home: Home, tmp_path: Path) -> Home:
    """A small world with three releases made."""
    with Store.open(home) as store:
        sample.make_world(store, pupils=300, seed=5)
        population.ensure_opt_outs(store)
        for i, plan in enumerate((PSEUDO, AGG, PSEUDO)):
            build_release(store, home, plan, tmp_path / f"r{i}")
    return home


def _problems(home: Home) -> list[str]:
    return ledger.verify(home).problems


def test_each_release_appends_one_entry_that_verifies(released: Home) -> None:
    report = ledger.verify(released)
    assert report.ok, report.problems
    assert report.tree_size == 3
    with Store.open(released) as store:
        e = log.entry(store, 0)
        n = store.one(
            "SELECT count(DISTINCT pupil_key) FROM release_pupils WHERE release_id = ?",
            [e["release_id"]],
        )
        leaf = bytes.fromhex(e["leaf"])
        assert json.loads(leaf)["pupils"]["count"] == n > 0
        assert e["agreement_id"] == "AGR-1" and e["level"] == "pseudonymised"
        # pupils only as keyed digests: no key, UPN or name in the ledger
        assert b"H8012" not in leaf
        digests = {
            bytes(r[0])
            for r in store.rows(
                "SELECT pupil_digest FROM ledger_pupils WHERE entry_index = 0"
            )
        }
        key = keys.digest_key(released)
        some = store.one(
            "SELECT min(pupil_key) FROM release_pupils WHERE release_id = ?",
            [e["release_id"]],
        )
        assert keys.pupil_digest(key, some) in digests
    head = json.loads((released.root / "ledger" / "head.json").read_text())
    assert head["tree_size"] == 3 and head["root_hash"] == report.root_hash


def test_checkpoint_and_proofs_check_with_outside_code(released: Home) -> None:
    cp = ledger.checkpoint(released)
    assert set(cp) == {"tree_size", "root_hash", "signature", "public_key"}
    assert log.signature_valid(
        bytes.fromhex(cp["public_key"]),
        cp["tree_size"],
        bytes.fromhex(cp["root_hash"]),
        bytes.fromhex(cp["signature"]),
    )
    proof = ledger.prove(released, 1, from_size=1)
    inc, con = proof["inclusion"], proof["consistency"]
    root = bytes.fromhex(proof["checkpoint"]["root_hash"])
    assert merkle.verify_inclusion(
        1,
        3,
        bytes.fromhex(inc["leaf_hash"]),
        [bytes.fromhex(h) for h in inc["path"]],
        root,
    )
    assert merkle.verify_consistency(
        1,
        3,
        bytes.fromhex(con["old_root"]),
        root,
        [bytes.fromhex(h) for h in con["proof"]],
    )


def test_export_recomputes_the_root(released: Home, tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    assert ledger.export(released, out) == 3
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["index"] for x in lines] == [0, 1, 2]
    leaves = [merkle.leaf_hash(bytes.fromhex(x["leaf"])) for x in lines]
    assert merkle.root(leaves).hex() == ledger.checkpoint(released)["root_hash"]


def _tamper(home: Home, *sql: str) -> None:
    with Store.open(home) as store:
        for s in sql:
            store.rows(s)


def test_verify_names_an_edited_entry(released: Home) -> None:
    _tamper(
        released,
        "UPDATE ledger_entries SET leaf = CAST(replace(CAST(leaf AS "
        "VARCHAR), 'University', 'Someone else') AS BLOB) WHERE entry_index = 2",
    )
    assert _problems(released)[0].startswith("entry 2: edited")


def test_verify_names_a_deleted_entry(released: Home) -> None:
    _tamper(released, "DELETE FROM ledger_entries WHERE entry_index = 1")
    assert _problems(released)[0].startswith("entry 1: deleted")


def test_verify_finds_the_last_entry_cut_off(released: Home) -> None:
    _tamper(released, "DELETE FROM ledger_entries WHERE entry_index = 2")
    problems = _problems(released)
    assert problems[0].startswith("entry 2: deleted")
    assert any("not in the ledger" in p for p in problems)  # the store still has it


def test_verify_names_a_reordered_entry(released: Home) -> None:
    _tamper(
        released,
        "UPDATE ledger_entries SET entry_index = CASE entry_index "
        "WHEN 0 THEN 1 WHEN 1 THEN 0 ELSE entry_index END",
    )
    assert _problems(released)[0].startswith("entry 0: reordered")


def test_verify_names_an_inserted_entry(released: Home) -> None:
    _tamper(
        released,
        "UPDATE ledger_entries SET entry_index = entry_index + 1 "
        "WHERE entry_index >= 1",
        "INSERT INTO ledger_entries SELECT 1, kind, release_id, agreement_id, "
        "created_at, row_count, leaf, leaf_hash, tree_size, root_hash, signature "
        "FROM ledger_entries WHERE entry_index = 0",
    )
    assert _problems(released)[0].startswith("entry 1: inserted")


def test_verify_finds_the_store_and_ledger_disagreeing(released: Home) -> None:
    _tamper(
        released,
        "DELETE FROM release_pupils WHERE pupil_key IN "
        "(SELECT min(pupil_key) FROM release_pupils)",
    )
    assert any("pupils disagree" in p for p in _problems(released))
    _tamper(released, "UPDATE releases SET row_count = row_count + 1")
    assert any("record disagrees" in p for p in _problems(released))


@pytest.mark.parametrize("small_entry", [10_000, 1])
def test_verify_finds_edited_pupil_digests(
    released: Home, small_entry: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways a commitment is remade (all small entries in one statement, a large
    one on its own) catch a digest taken out, swapped or added."""
    from pupilshare.ledger import check

    monkeypatch.setattr(check, "SMALL_ENTRY", small_entry)
    assert _problems(released) == []
    _tamper(
        released,
        "UPDATE ledger_pupils SET pupil_digest = sha256('someone else')::BLOB "
        "WHERE entry_index = 0 AND "
        "pupil_digest = (SELECT max(pupil_digest) FROM ledger_pupils "
        "WHERE entry_index = 0)",
    )
    assert _problems(released)[0].startswith("entry 0: edited")
    _tamper(
        released,
        "DELETE FROM ledger_pupils WHERE entry_index = 0 AND "
        "pupil_digest = (SELECT min(pupil_digest) FROM ledger_pupils)",
    )
    assert _problems(released)[0].startswith("entry 0: edited")


def test_verify_finds_digests_added_to_an_entry_of_none(released: Home) -> None:
    """An entry that disclosed nobody's records (a watch event) stays so: pupils put
    under it, which a subject access answer would report as a disclosure, are found."""
    with Store.open(released) as store:
        index = log.append(store, released, {"kind": "watch_event", "note": "x"})
    assert _problems(released) == []
    _tamper(
        released,
        f"INSERT INTO ledger_pupils SELECT {index}, sha256(i::VARCHAR)::BLOB "
        "FROM range(3) r(i)",
    )
    assert _problems(released)[0].startswith(f"entry {index}: edited (pupils are")


def test_register_counts_come_from_the_ledger(released: Home) -> None:
    rows = ledger.releases_by_agreement(released)
    assert [r["agreement_id"] for r in rows] == ["AGR-1", "AGR-CQC", "AGR-1"]


def test_a_release_killed_inside_the_ledger_append_leaves_neither(
    home: Home, tmp_path: Path
) -> None:
    with Store.open(home) as store:
        sample.make_world(store, pupils=200, seed=2)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(PSEUDO.to_json())
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": "src", "PUPILSHARE_LEDGER_PAUSE": "30"}
    script = (
        "import sys; from pathlib import Path; from pupilshare.config import Home; "
        "from pupilshare.store import Store; "
        "from pupilshare.release.build import build_release; "
        "from pupilshare.release import check; "  # the test's own plan (own_plan)
        "check.governance_reasons = lambda home, plan: []; "
        "from pupilshare.plan import plan_from_json; "
        "home = Home(Path(sys.argv[1])); store = Store.open(home); "
        "build_release(store, home, plan_from_json(Path(sys.argv[2]).read_text()), "
        "Path(sys.argv[3]))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(home.root), str(plan_file), str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    key = home.keys_dir / keys.SIGNING_KEY
    deadline = time.time() + 60
    while time.time() < deadline and not key.exists():
        time.sleep(0.1)  # the signing key is read just before the pause
    time.sleep(1.0)
    assert proc.poll() is None, "release ended before the drill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    with Store.open(home) as store:
        assert log.size(store) == 0
        assert not store.exists("releases") or not store.one(
            "SELECT count(*) FROM releases"
        )
    assert ledger.verify(home).ok
    with Store.open(home) as store:  # and the next release goes through
        build_release(store, home, PSEUDO, out)
    assert ledger.verify(home).ok and out.exists()


def test_a_lookup_is_a_disclosure_too(released: Home) -> None:
    with Store.open(released) as store:
        i = ledger.record_lookup(
            store,
            released,
            "AGR-1",
            "University",
            "research",
            ["census.upn"],
            "SELECT 5::BIGINT AS pupil_key",
            1,
        )
        assert log.entry(store, i)["kind"] == "lookup"
    assert ledger.verify(released).ok


def test_pupils_digested_in_python_commit_as_in_sql(home: Home) -> None:
    """A subject access answer digests its one pupil in Python: the entry commits
    to exactly what the SQL path would (count, SHA-256 of the sorted digests)."""
    fields = {"kind": "subject_access", "created_at": "2026-01-01T00:00:00"}
    with Store.open(home) as store:
        a = log.append(store, home, fields, "SELECT 7 AS pupil_key UNION SELECT 42")
        b, root = log.append_with_tree(store, home, fields, pupil_keys=[42, 7])
        by_sql, by_python = (
            [
                bytes(r[0])
                for r in store.rows(
                    "SELECT pupil_digest FROM ledger_pupils WHERE entry_index = ? "
                    "ORDER BY rowid",
                    [i],
                )
            ]
            for i in (a, b)
        )
        first, second = (
            json.loads(
                store.one("SELECT leaf FROM ledger_entries WHERE entry_index = ?", [i])
            )
            for i in (a, b)
        )
        assert root == merkle.root(log.leaf_hashes(store))
    assert by_sql == by_python and len(by_sql) == 2
    assert second["pupils"] == first["pupils"]
    assert ledger.verify(home).ok


def _kept(store: Store) -> dict[tuple[int, int], bytes]:
    return {
        (int(lv), int(ix)): bytes(h)
        for lv, ix, h in store.rows("SELECT level, node_index, hash FROM ledger_nodes")
    }


def test_the_kept_tree_follows_every_append(released: Home) -> None:
    """Appends one at a time and in a batch keep every perfect subtree, as the
    leaves give it; a store made before the tree was kept gets it on its next
    append; proofs from the kept tree check against the leaves' root."""
    with Store.open(released) as store:
        store.rows("DROP TABLE ledger_nodes")  # as a store made before it
        log.ensure(store)
        for i in range(4):
            ledger.record_lookup(
                store,
                released,
                "AGR-1",
                "University",
                "research",
                ["census.upn"],
                f"SELECT {i + 5}::BIGINT AS pupil_key",
                1,
            )
        ledger.append_many(
            store,
            released,
            [({"kind": "lookup", "created_at": "2026-01-01"}, [b"x" * 32])] * 6,
        )
        hashes = log.leaf_hashes(store)
        n = len(hashes)
        assert n == 13
        want = {(lv, ix): h for lv, ix, _, h in tree.all_nodes(hashes)}
        assert _kept(store) == want and len(want) == tree.expected(n)
        for i in range(n):
            nodes = tree.read(store, n, lambda t, i=i: t.inclusion_path(i))
            path = nodes.inclusion_path(i)
            assert path == merkle.inclusion_path(i, hashes)
            assert merkle.verify_inclusion(i, n, hashes[i], path, merkle.root(hashes))
    assert ledger.verify(released).ok


def test_proofs_and_checkpoints_read_the_kept_tree_not_every_leaf(
    released: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``prove`` and ``checkpoint`` give what the leaves give, for every entry and
    every earlier size, without reading every leaf (O(log n) on a national ledger)."""
    with Store.open(released) as store:
        ledger.append_many(
            store,
            released,
            [
                ({"kind": "lookup", "created_at": f"2026-01-0{i}"}, [b"y" * 32])
                for i in range(1, 9)
            ],
        )
        hashes = log.leaf_hashes(store)
    n = len(hashes)
    assert n > 8

    def every_leaf(*_a: object, **_k: object) -> list[bytes]:
        raise AssertionError("read every leaf")

    monkeypatch.setattr(log, "leaf_hashes", every_leaf)
    assert ledger.checkpoint(released)["root_hash"] == merkle.root(hashes).hex()
    for i in range(n):
        for old in range(1, n + 1):
            got = ledger.prove(released, i, from_size=old)
            assert got["inclusion"]["leaf_hash"] == hashes[i].hex()
            assert got["inclusion"]["path"] == [
                h.hex() for h in merkle.inclusion_path(i, hashes)
            ]
            assert got["consistency"]["old_root"] == merkle.root(hashes[:old]).hex()
            assert got["consistency"]["proof"] == [
                h.hex() for h in merkle.consistency_proof(old, hashes)
            ]
    with pytest.raises(InvalidInput):
        ledger.prove(released, n)
    with pytest.raises(InvalidInput):
        ledger.prove(released, 0, from_size=n + 1)


def test_verify_names_an_edited_kept_node(released: Home) -> None:
    """An attacker who edits a kept subtree hash (so proofs and the next head would
    rest on it) or an entry's leaf_hash column is named by verify."""
    with Store.open(released) as store:
        ledger.record_lookup(
            store,
            released,
            "AGR-1",
            "University",
            "research",
            ["census.upn"],
            "SELECT 5::BIGINT AS pupil_key",
            1,
        )
    _tamper(
        released,
        "UPDATE ledger_nodes SET hash = sha256('x')::BLOB WHERE level = 1 "
        "AND node_index = 1",
    )
    assert _problems(released)[0].startswith("ledger_nodes: level 1 node 1 disagrees")
    _tamper(released, "DELETE FROM ledger_nodes WHERE level = 1 AND node_index = 1")
    assert "missing" in _problems(released)[0]


def test_verify_names_an_edited_leaf_hash(released: Home) -> None:
    _tamper(
        released,
        "UPDATE ledger_entries SET leaf_hash = sha256('x')::BLOB WHERE entry_index = 1",
    )
    assert _problems(released)[0].startswith("entry 1: edited (its leaf_hash")


def test_batches_extend_the_tree_others_appended_to(home: Home) -> None:
    """``append_many`` keeps the tree's compact range between batches; an entry
    appended in between by another path (``log.append``) is noticed (the newest
    head differs) and the range made again, so every head stays right."""
    from pupilshare.ledger import batch

    def entries(tag: str, n: int) -> list[tuple[dict, list[bytes]]]:
        return [
            (
                {
                    "kind": "lookup",
                    "release_id": f"{tag}-{i}",
                    "created_at": "2026-12-05T00:00:00",
                    "row_count": 1,
                },
                [ledger.digest(home, f"uln:{tag}{i}")],
            )
            for i in range(n)
        ]

    with Store.open(home) as store:
        assert ledger.append_many(store, home, entries("a", 5)) == list(range(5))
        assert batch._PEAKS[store.path][0] == 5
        assert ledger.append_many(store, home, entries("b", 3)) == [5, 6, 7]
        log.append(store, home, {"kind": "lookup", "created_at": "x", "row_count": 0})
        assert batch._PEAKS[store.path][0] == 8  # stale: the ledger holds 9
        assert ledger.append_many(store, home, entries("c", 4)) == [9, 10, 11, 12]
    report = ledger.verify(home)
    assert report.ok, report
