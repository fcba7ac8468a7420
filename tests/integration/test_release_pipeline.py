"""Releases end to end over a small linked world in DuckDB: population and opt-outs,
pseudonyms per agreement, the output check blocking corrupted releases, records."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pupilshare.config import Home
from pupilshare.errors import Blocked
from pupilshare.plan import Population, ReleasePlan, Sdc, TableSpec
from pupilshare.release import check, population
from pupilshare.release.build import build_release
from pupilshare.rights import optouts
from pupilshare.rights.identity import Subject
from pupilshare.store import Store
from pupilshare.synth import linked_world

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
        "ks_results.date_of_birth",
        "ks_results.surname",
        "pupil.pupil_pseudonym",
    ),
)
ANON = ReleasePlan(
    "AGR-DH",
    "Department of Health",
    "SI 2009/1563",
    "health",
    "anonymised",
    (
        "ncmp.sex",
        "ncmp.school_year",
        "ncmp.la_code",
        "ncmp.health_area",
        "ncmp.height_cm",
        "ncmp.weight_kg",
        "ncmp.bmi_centile",
        "ncmp.weight_category",
    ),
    opt_out_scope="health",
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
def world(home: Home) -> Store:
    store = Store.open(home)
    linked_world.make_world(store, pupils=600, seed=3)
    population.ensure_opt_outs(store)
    yield store
    store.close()


def _opt_out(store: Store, key: int, scope: str) -> None:
    """Register an opt-out as the rights area does: by the pupil's identifiers."""
    optouts.ensure(store)
    forename, surname, born = store.rows(
        "SELECT forename, surname, date_of_birth FROM pupils WHERE pupil_key = ?", [key]
    )[0]
    who = Subject(forename, surname, born)
    n = store.one("SELECT count(*) FROM optout_events")
    store.rows(
        "INSERT INTO optout_events VALUES (?, 'add', ?, ?, NULL, NULL, ?, ?, "
        "?, 'parent', 'a parent', 'letter', 'test', now())",
        [n + 1, scope, who.key, forename, surname, born],
    )
    optouts.refresh(store)


def _keys_in(store: Store, release_id: str) -> set[int]:
    return {
        r[0]
        for r in store.rows(
            "SELECT pupil_key FROM release_pupils WHERE release_id = ?", [release_id]
        )
    }


def test_opt_outs_remove_pupils_from_every_level(
    world: Store, home: Home, tmp_path: Path
) -> None:
    first = build_release(world, home, AGG, tmp_path / "a")
    before = _keys_in(world, first.release_id)
    for key, scope in ((5, "all"), (6, "health"), (7, "marketing")):
        _opt_out(world, key, scope)
    for i, plan in enumerate((AGG, ANON)):
        m = build_release(world, home, plan, tmp_path / f"b{i}")
        keys = _keys_in(world, m.release_id)
        assert not keys & {5, 6}
    assert {5, 6, 7} <= before and 7 in keys  # another purpose's opt-out is not ours


def test_pseudonyms_are_stable_within_an_agreement_and_differ_across(
    world: Store, home: Home, tmp_path: Path
) -> None:
    other = ReleasePlan(**{**PSEUDO.__dict__, "agreement_id": "AGR-2"})
    a = pq.read_table(
        Path(build_release(world, home, PSEUDO, tmp_path / "a").out_dir)
        / "ks_results.parquet"
    )
    a2 = pq.read_table(
        Path(build_release(world, home, PSEUDO, tmp_path / "a2").out_dir)
        / "ks_results.parquet"
    )
    b = pq.read_table(
        Path(build_release(world, home, other, tmp_path / "b").out_dir)
        / "ks_results.parquet"
    )
    pa_, pa2, pb = (set(t.column("pupil_pseudonym").to_pylist()) for t in (a, a2, b))
    assert pa_ == pa2 and len(pa_) == 600
    assert not pa_ & pb
    # 16 fixed bytes in Parquet (a UUID), the 8-4-4-4-12 form in the CSV
    assert a.schema.field("pupil_pseudonym").type == pa.uuid()
    csv = (
        (
            Path(build_release(world, home, PSEUDO, tmp_path / "c").out_dir)
            / "ks_results.csv"
        )
        .read_text()
        .replace('"', "")
        .splitlines()
    )
    column = csv[0].split(",").index("pupil_pseudonym")
    assert re.fullmatch(
        r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", csv[1].split(",")[column]
    )
    assert "surname" not in a.column_names
    assert a.column("date_of_birth_month").to_pylist()[0][4] == "-"
    assert not list(
        world.rows(
            "SELECT * FROM information_schema.tables WHERE table_name ILIKE '%key%'"
        )
    )
    assert (home.keys_dir / "AGR-1.key").stat().st_mode & 0o077 == 0


def test_anonymised_release_is_k_anonymous_and_reports_risk(
    world: Store, home: Home, tmp_path: Path
) -> None:
    m = build_release(world, home, ANON, tmp_path / "o")
    t = pq.read_table(Path(m.out_dir) / "ncmp.parquet")
    sizes = t.group_by(["sex", "school_year", "la_code", "health_area"]).aggregate(
        [([], "count_all")]
    )
    assert min(sizes.column("count_all").to_pylist()) >= 10
    risk = m.risk["ncmp"]
    assert risk["prosecutor_risk_max"] <= 0.1 and risk["sample_uniques_after"] == 0
    manifest = json.loads((Path(m.out_dir) / "manifest.json").read_text())
    names = {f["name"] for f in manifest["files"]}
    assert names == {"ncmp.parquet", "ncmp.csv", "README.txt"}
    recorded = world.rows("SELECT row_count, manifest_sha256 FROM releases")
    assert recorded[0][0] == t.num_rows


def _staged(world: Store, home: Home, plan: ReleasePlan, tmp_path: Path):
    """A release built and delivered, then copied back for corrupting."""
    m = build_release(world, home, plan, tmp_path / "good")
    pupils = world.arrow(
        "SELECT pupil_key FROM release_pupils WHERE release_id = ?", [m.release_id]
    )
    return Path(m.out_dir), pupils


def _rewrite(path: Path, table) -> None:
    pq.write_table(table, path)
    manifest = json.loads((path.parent / "manifest.json").read_text())
    for f in manifest["files"]:
        if f["name"] == path.name:
            import hashlib

            f["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / "manifest.json").write_text(json.dumps(manifest))


def test_checker_passes_a_good_release_and_blocks_corrupted_ones(
    world: Store, home: Home, tmp_path: Path
) -> None:
    out, pupils = _staged(world, home, PSEUDO, tmp_path)
    assert check.check_release(world, home, PSEUDO, out, pupils) == []
    f = out / "ks_results.parquet"
    t = pq.read_table(f)
    _rewrite(f, t.append_column("surname", t.column("subject")))
    reasons = check.check_release(world, home, PSEUDO, out, pupils)
    assert any("column surname is outside" in r for r in reasons)
    _rewrite(f, t)
    world.rows("INSERT INTO opt_outs VALUES (9, 'research', now())")
    reasons = check.check_release(world, home, PSEUDO, out, pupils)
    assert any("opted-out" in r for r in reasons)
    (out / "ks_results.csv").write_text("tampered")
    assert any(
        "SHA-256" in r for r in check.check_release(world, home, PSEUDO, out, pupils)
    )


def test_checker_blocks_k_failure(world: Store, home: Home, tmp_path: Path) -> None:
    out, pupils = _staged(world, home, ANON, tmp_path)
    f = out / "ncmp.parquet"
    t = pq.read_table(f)
    _rewrite(f, t.slice(0, t.num_rows - 3).concat_arrays if False else t.slice(0, 3))
    big = pq.read_table(f)
    odd = big.set_column(
        big.column_names.index("la_code"), "la_code", pa.array(["999", "201", "201"])
    )
    _rewrite(f, odd)
    reasons = check.check_release(world, home, ANON, out, pupils)
    assert any("k-anonymity fails" in r for r in reasons)


def test_checker_blocks_small_and_recoverable_cells(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = ReleasePlan(**{**AGG.__dict__, "sdc": Sdc(threshold=40)})
    out, pupils = _staged(world, home, plan, tmp_path)
    f = out / "by_la.parquet"
    t = pq.read_table(f)
    assert check.check_release(world, home, plan, out, pupils) == []
    sym = t.column("symbol").to_pylist()
    assert "c" in sym
    # Publish every suppressed cell but one: the last is then recoverable.
    hidden = [i for i, s in enumerate(sym) if s == "c"]
    values = t.column("value").to_pylist()
    truth = build_true_values(world, plan, t)
    for i in hidden[1:]:
        values[i], sym[i] = truth[i], None
    _rewrite(f, _republished(t, pa.array(values, pa.int64()), sym))
    reasons = check.check_release(world, home, plan, out, pupils)
    assert any("under the threshold" in r for r in reasons)
    assert any("can be recovered" in r for r in reasons)


def _republished(t: pa.Table, values: pa.Array, symbols: list) -> pa.Table:
    """The table with its value and symbol columns replaced (a corrupted copy)."""
    t = t.set_column(t.column_names.index("value"), "value", values)
    return t.set_column(
        t.column_names.index("symbol"), "symbol", pa.array(symbols, pa.string())
    )


def build_true_values(world: Store, plan: ReleasePlan, t) -> list[int]:
    from pupilshare.release import aggregate, population

    view = population.eligible(world, plan, "ncmp")
    spec = plan.tables[0]
    cells = world.arrow(aggregate.cells_sql(spec, view, 2))
    cube = aggregate.cube_from_cells(spec, cells, 2)
    raw = aggregate.sdc.to_arrow(cube, Sdc(), integer=True)
    assert raw.column("la_code").to_pylist() == t.column("la_code").to_pylist()
    return raw.column("value").to_pylist()


def test_a_blocked_release_delivers_nothing(
    world: Store, home: Home, tmp_path: Path
) -> None:
    _opt_out(world, 1, "research")
    plan = ReleasePlan(**{**PSEUDO.__dict__, "opt_out_scope": "research"})
    # Sabotage the one population function: the checker must still catch it.
    original = population.opt_out_scopes
    population.opt_out_scopes = lambda p: ("nothing",)
    try:
        with pytest.raises(Blocked) as e:
            build_release(world, home, plan, tmp_path / "o")
    finally:
        population.opt_out_scopes = original
    assert any("opted-out" in r for r in e.value.errors)
    assert not (tmp_path / "o").exists()
    assert not list(home.releases_dir.iterdir())


def test_a_killed_release_delivers_nothing(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(PSEUDO.to_json())
    world.close()
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": "src", "PUPILSHARE_RELEASE_PAUSE": "5"}
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
    deadline = time.time() + 30
    while time.time() < deadline:
        staged = list(tmp_path.glob(".staging-*/*.parquet"))  # beside the target
        if staged:
            break
        time.sleep(0.1)
    assert staged, "release never started writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    store = Store.open(home)
    try:
        assert (
            store.rows(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_name = 'releases'"
            )[0][0]
            == 0
            or store.rows("SELECT count(*) FROM releases")[0][0] == 0
        )
    finally:
        store.close()


def test_status_reports_releases(world: Store, home: Home, tmp_path: Path) -> None:
    from pupilshare.status import store_status

    build_release(world, home, AGG, tmp_path / "s")
    world.close()
    report = store_status(home)
    assert report["releases"]["delivered"] == 1
    assert report["releases"]["by_level"] == {"aggregate": 1}


def test_identified_release_carries_the_index_identifiers(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = ReleasePlan(
        "LA-1",
        "LA",
        "SI 2009/1563",
        "own pupils",
        "identified",
        ("census.census_date", "census.upn", "census.surname", "pupil.upn"),
        population=Population(la_codes=("201",)),
    )
    m = build_release(world, home, plan, tmp_path / "i")
    t = pq.read_table(Path(m.out_dir) / "census.parquet")
    assert t.column_names == ["census_date", "upn", "surname", "pupil_upn"]
    assert t.num_rows > 0
    assert t.column("upn").to_pylist() == t.column("pupil_upn").to_pylist()


def test_sums_and_rounded_counts_are_checked_on_the_store_s_true_values(
    world: Store, home: Home, tmp_path: Path
) -> None:
    """The check recomputes the sums from the population in its own SQL: the good
    release passes, and a suppressed sum cell published on purpose blocks it."""
    sums = TableSpec(
        "weight_by_la", "ncmp", ("la_code",), ("sex",), measure="weight_kg"
    )
    plan = ReleasePlan(
        **{
            **AGG.__dict__,
            "tables": (*AGG.tables, sums),
            "items": (*AGG.items, "ncmp.sex", "ncmp.weight_kg"),
            "sdc": Sdc(threshold=40, rounding=5),
        }
    )
    out, pupils = _staged(world, home, plan, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    audits = manifest["rules"]["output_check"]
    assert "true values (unrounded)" in audits["weight_by_la"]
    assert "true values (unrounded)" in audits["by_la"]
    assert "p% rule" in manifest["rules"]["p_percent"]
    f = out / "weight_by_la.parquet"
    t = pq.read_table(f)
    sym = t.column("symbol").to_pylist()
    assert "c" in sym
    values = t.column("value").to_pylist()
    for i in [i for i, s in enumerate(sym) if s == "c"]:  # the primary cells too
        values[i], sym[i] = 1.0, None
    _rewrite(f, _republished(t, pa.array(values, pa.float64()), sym))
    reasons = check.check_release(world, home, plan, out, pupils)
    assert any("fewer than 40 contributors" in r for r in reasons)
    assert any("differ from the store" in r for r in reasons)


def test_only_a_publication_reaches_the_public_pages(
    world: Store, home: Home, tmp_path: Path
) -> None:
    """Point 3: publishing is a disclosure with its own route. The public pages
    showed any aggregate release whose recipient's id began with "public" or
    "department": a firm registered as ``publicity-ltd`` given tables under a
    secure download, or the department's own internal tables, were published to
    everyone. Only an agreement whose access route is publication is."""
    from pupilshare.plan import PUBLICATION
    from pupilshare.release import public

    made = {}
    for recipient, route in (
        ("publicity-ltd", PUBLICATION),
        ("department", "secure download"),
        ("department", PUBLICATION),
    ):
        plan = ReleasePlan(
            **{
                **AGG.__dict__,
                "agreement_id": f"{recipient}-{route.split()[0]}",
                "recipient": recipient,
                "access_route": route,
            }
        )
        m = build_release(world, home, plan, tmp_path / plan.agreement_id)
        made[plan.agreement_id] = m.release_id
    shown = {s["release_id"] for s in public.statistics(world)}
    assert shown == {made["department-publication"]}


def test_a_file_changed_after_delivery_is_never_served(
    world: Store, home: Home, tmp_path: Path
) -> None:
    """Point 8 after delivery: someone with access to the releases folder changes
    a delivered file (here its suppressed cells filled in) or edits the manifest
    the download's decision is asked on. The recipient's download served
    whatever the folder held; it is served only while it is what the check
    passed and the record holds (its SHA-256), and a changed manifest is no
    manifest."""
    from pupilshare.errors import Conflict
    from pupilshare.release import public

    m = build_release(world, home, AGG, tmp_path / "o")
    rec = public.release(world, m.release_id)
    assert public.release_file(rec, "by_la.parquet").is_file()
    assert public.manifest(rec)["items"] == list(AGG.items)
    f = tmp_path / "o" / "by_la.parquet"
    t = pq.read_table(f)  # the suppressed cells filled in with their true values
    pq.write_table(
        t.set_column(
            t.column_names.index("value"),
            "value",
            pa.array(
                [v if v is not None else 3 for v in t.column("value").to_pylist()]
            ),
        ),
        f,
    )
    with pytest.raises(Conflict, match="changed since delivery"):
        public.release_file(rec, "by_la.parquet")
    man = tmp_path / "o" / "manifest.json"
    man.write_text(man.read_text().replace("AGR-CQC", "AGR-CQC "))
    assert public.manifest(rec) == {}
