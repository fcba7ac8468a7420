"""What an agreement promises, tried as an attacker would (issue 10 points 1, 4, 6, 8).

Over the small linked world of ``synth.linked_world``: pupils born 2012-09 to 2016-08,
census each October 2021-2023, KS2 results each May 2022-2024, NCMP in March 2023.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.test_release_pipeline import _opt_out

from pupilshare.config import Home
from pupilshare.errors import Blocked, Conflict
from pupilshare.plan import Population, ReleasePlan, TableSpec
from pupilshare.release import check, population, promises
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world as sample

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan


@pytest.fixture
def world(home: Home) -> Store:
    store = Store.open(home)
    sample.make_world(store, pupils=600, seed=3)
    population.ensure_opt_outs(store)
    yield store
    store.close()


def _plan(level: str, items: tuple[str, ...], pop: Population, **kw) -> ReleasePlan:
    return ReleasePlan(
        "AGR-X",
        "Recipient",
        "SI 2009/1563",
        "purpose",
        level,
        items,
        population=pop,
        **kw,
    )


def _rows(world: Store, m, name: str) -> list[dict]:
    return pq.read_table(Path(m.out_dir) / f"{name}.parquet").to_pylist()


def _year_group_on(dob, on) -> str:
    """The school year rules, written out for the test: age on 31 August minus 4."""
    start = on.year - (1 if on.month < 9 else 0)
    age = start - dob.year - (1 if dob.month > 8 else 0)
    return "R" if age == 4 else str(age - 4)


def _dob(world: Store) -> dict[str, object]:
    return dict(world.rows("SELECT upn, date_of_birth FROM pupils"))


def test_a_year_6_agreement_gets_only_results_from_the_year_the_pupil_was_in_year_6(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = _plan(
        "identified",
        (
            "ks_results.upn",
            "ks_results.assessment_date",
            "ks_results.subject",
            "ks_results.outcome",
        ),
        Population(year_groups=("6",)),
    )
    rows = _rows(world, build_release(world, home, plan, tmp_path / "o"), "ks_results")
    born = _dob(world)
    assert rows and {
        _year_group_on(born[r["upn"]], r["assessment_date"]) for r in rows
    } == {"6"}
    every = world.one("SELECT count(*) FROM ds_ks_results")
    assert len(rows) < every / 2  # before: every result of every pupil passed


def test_an_age_floor_carries_no_census_row_from_before_that_age(
    world: Store, home: Home, tmp_path: Path
) -> None:
    # The world's oldest pupils turn 10 in 2022: judged on a release date years on
    # (when all are 14+), every row would pass; judged at each census day, none may.
    plan = _plan(
        "identified",
        ("census.upn", "census.census_date"),
        Population(min_age=10),
        reference_date=__import__("datetime").date(2031, 1, 1),
    )
    rows = _rows(world, build_release(world, home, plan, tmp_path / "o"), "census")
    born = _dob(world)

    def age(dob, on) -> int:
        return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))

    assert rows and min(age(born[r["upn"]], r["census_date"]) for r in rows) >= 10
    assert len(rows) < world.one("SELECT count(*) FROM ds_census")


def test_an_la_release_carries_no_other_la_s_records_in_any_dataset(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = _plan(
        "identified",
        (
            "census.upn",
            "census.census_date",
            "census.laestab",
            "ks_results.upn",
            "ks_results.laestab",
            "ks_results.academic_year",
            "ks_results.subject",
        ),
        Population(la_codes=("201",)),
    )
    m = build_release(world, home, plan, tmp_path / "o")
    for name in ("census", "ks_results"):
        rows = _rows(world, m, name)
        assert rows and {r["laestab"][:3] for r in rows} == {"201"}


def test_a_dataset_that_cannot_be_scoped_refuses_the_release_naming_it(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = _plan(
        "identified",
        (
            "census.upn",
            "census.census_date",
            "qualifications.uln",
            "qualifications.grade",
        ),
        Population(la_codes=("201",)),
    )
    with pytest.raises(Conflict) as e:
        build_release(world, home, plan, tmp_path / "o")
    assert any("qualifications" in r for r in e.value.errors)
    assert not (tmp_path / "o").exists()


ANON = ReleasePlan(
    "AGR-DH",
    "Department of Health",
    "SI 2009/1563",
    "health",
    "anonymised",
    (
        "ncmp.sex",
        "ncmp.school_year",
        "ncmp.health_area",
        "ncmp.age_months",
        "ncmp.height_cm",
        "ncmp.weight_kg",
        "ncmp.bmi_centile",
        "ncmp.weight_category",
    ),
    opt_out_scope="health",
)


def test_the_linkage_attack_with_another_recipient_s_release_fails(
    world: Store, home: Home, tmp_path: Path
) -> None:
    """An LA holds an identified NCMP extract of its pupils (UPN, sex, school year,
    height, weight); it tries to find each of its pupils in the health department's
    anonymised release by the columns both carry, coarsened as the release shows
    them. Every pupil it looks for matches at least k records that are identical in
    every column, so no record is singled out and nothing new is learnt."""
    la = _plan(
        "identified",
        (
            "ncmp.upn",
            "ncmp.measurement_date",
            "ncmp.sex",
            "ncmp.school_year",
            "ncmp.height_cm",
            "ncmp.weight_kg",
        ),
        Population(),
    )
    known = _rows(world, build_release(world, home, la, tmp_path / "la"), "ncmp")
    m = build_release(world, home, ANON, tmp_path / "dh")
    released = pq.read_table(Path(m.out_dir) / "ncmp.parquet")
    levels = m.risk["ncmp"]["levels"]
    assert levels["height_cm"] != "original" and levels["weight_kg"] != "original"
    assert levels["bmi_centile"] in ("integer", "category", "*")  # never 2 decimals
    shared = ["sex", "school_year", "height_cm", "weight_kg"]
    store = Store()
    store.register("dh", released)
    store.register("la", pa.Table.from_pylist(known))
    coarse = {c: _as_released(c, levels[c]) for c in shared}
    on = " AND ".join(f"dh.{c} = {coarse[c]}" for c in shared)
    singled = store.one(
        f"SELECT count(*) FROM (SELECT la.upn, count(*) AS n FROM la JOIN dh ON {on} "
        "GROUP BY la.upn) WHERE n < 10"
    )
    assert singled == 0
    # Each matched set is one class: identical rows, so the match says nothing more.
    assert (
        store.one("SELECT count(*) FROM (SELECT DISTINCT * FROM dh)")
        == m.risk["ncmp"]["classes"]
    )
    # Before: exact height and weight with sex and year single out most pupils.
    exact = store.one(
        "SELECT count(*) FROM (SELECT sex, school_year, height_cm, weight_kg, "
        "count(*) AS n FROM la GROUP BY ALL) WHERE n = 1"
    )
    assert exact > len(known) / 2
    risk = m.risk["ncmp"]
    assert {"prosecutor_risk_max", "journalist_risk_max", "marketer_risk"} <= set(risk)
    assert risk["prosecutor_risk_max"] <= 0.1 and risk["marketer_risk"] <= 0.1


def _as_released(column: str, level: str) -> str:
    """The LA's value of ``column`` coarsened to the release's level, in SQL."""
    from pupilshare.release.derive import generalise_sql

    if level == "original":
        return f"la.{column}"
    return generalise_sql(level, f"la.{column}")


def _staged(world: Store, home: Home, plan: ReleasePlan, tmp_path: Path):
    m = build_release(world, home, plan, tmp_path / "good")
    pupils = world.arrow(
        "SELECT pupil_key FROM release_pupils WHERE release_id = ?", [m.release_id]
    )
    return Path(m.out_dir), pupils


def _rewrite(path: Path, table: pa.Table) -> None:
    import hashlib

    pq.write_table(table, path)
    (path.with_suffix(".csv")).unlink(missing_ok=True)
    manifest = json.loads((path.parent / "manifest.json").read_text())
    manifest["files"] = [
        f for f in manifest["files"] if f["name"] != path.with_suffix(".csv").name
    ]
    for f in manifest["files"]:
        if f["name"] == path.name:
            f["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / "manifest.json").write_text(json.dumps(manifest))


def test_checker_blocks_rows_and_pupils_outside_the_scope_at_their_dates(
    world: Store, home: Home, tmp_path: Path
) -> None:
    """Today's builder skipped the year-group filter for results: the checker,
    given what it would have delivered, refuses it."""
    plan = _plan(
        "pseudonymised",
        ("pupil.pupil_pseudonym", "ks_results.subject", "ks_results.outcome"),
        Population(year_groups=("6",)),
    )
    out, pupils = _staged(world, home, plan, tmp_path)
    assert check.check_release(world, home, plan, out, pupils) == []
    wide = dataclasses.replace(plan, population=Population())
    unscoped, everyone = _staged(world, home, wide, tmp_path / "wide")
    f = out / "ks_results.parquet"
    _rewrite(f, pq.read_table(unscoped / "ks_results.parquet"))
    reasons = check.check_release(world, home, plan, out, everyone)
    assert any("only" in r and "in the agreement's scope" in r for r in reasons)
    assert any("no record in the agreement's scope" in r for r in reasons)


def test_checker_blocks_an_anonymised_file_unique_on_all_its_columns(
    world: Store, home: Home, tmp_path: Path
) -> None:
    out, pupils = _staged(world, home, ANON, tmp_path)
    assert check.check_release(world, home, ANON, out, pupils) == []
    f = out / "ncmp.parquet"
    t = pq.read_table(f)
    exact = world.arrow("SELECT height_cm FROM ds_ncmp LIMIT ?", [t.num_rows])
    i = t.column_names.index("height_cm")
    _rewrite(f, t.set_column(i, "height_cm", exact.column(0)))
    reasons = check.check_release(world, home, ANON, out, pupils)
    assert any("measurement released exactly" in r for r in reasons)
    assert any("(pycanon)" in r for r in reasons)


def test_checker_blocks_an_identified_extract_without_identifier_or_distinct_rows(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = _plan(
        "identified",
        ("census.upn", "census.census_date", "census.surname"),
        Population(la_codes=("201",)),
    )
    out, pupils = _staged(world, home, plan, tmp_path)
    assert check.check_release(world, home, plan, out, pupils) == []
    f = out / "census.parquet"
    t = pq.read_table(f)
    _rewrite(f, t.select(["surname"]))  # no UPN to file the record by
    reasons = check.check_release(world, home, plan, out, pupils)
    assert any("must carry the UPN or ULN" in r for r in reasons)
    _rewrite(f, t.select(["upn", "surname"]))  # today's extracts: no census date
    reasons = check.check_release(world, home, plan, out, pupils)
    assert any("repeat another row" in r for r in reasons)


def test_a_lookup_agreement_receives_only_its_candidates(
    world: Store, home: Home, tmp_path: Path
) -> None:
    """An awarding body's candidates (here: pupils with a record at one school) and
    never a national file; the checker refuses a file with anyone else."""
    school = world.one("SELECT min(laestab) FROM ds_census")
    pop = Population(records_at=("census", "laestab", school))
    plan = _plan(
        "identified", ("census.upn", "census.census_date", "census.laestab"), pop
    )
    out, pupils = _staged(world, home, plan, tmp_path)
    theirs = {
        r[0]
        for r in world.rows(
            "SELECT DISTINCT upn FROM ds_census WHERE laestab = ?", [school]
        )
    }
    got = {r["upn"] for r in pq.read_table(out / "census.parquet").to_pylist()}
    assert got == theirs and len(got) < 600
    national, everyone = _staged(
        world, home, dataclasses.replace(plan, population=Population()), tmp_path / "n"
    )
    _rewrite(out / "census.parquet", pq.read_table(national / "census.parquet"))
    reasons = check.check_release(world, home, plan, out, everyone)
    assert any("no record in the agreement's scope" in r for r in reasons)


def test_blocked_is_raised_for_a_release_the_checker_refuses(
    world: Store, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The builder's scope broken as it was (no year-group filter for results):
    delivery is refused and nothing is delivered."""
    from pupilshare.release import scope

    real = scope.conditions

    def skip_year_groups(pop, dataset, row="s"):
        pop = (
            dataclasses.replace(pop, year_groups=()) if dataset == "ks_results" else pop
        )
        return real(pop, dataset, row)

    monkeypatch.setattr(scope, "conditions", skip_year_groups)
    plan = _plan(
        "pseudonymised",
        ("pupil.pupil_pseudonym", "ks_results.outcome"),
        Population(year_groups=("6",)),
    )
    with pytest.raises(Blocked):
        build_release(world, home, plan, tmp_path / "o")
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Store:
    home = Home(tmp_path_factory.mktemp("world"))
    home.ensure()
    store = Store.open(home)
    sample.make_world(store, pupils=300, seed=5)
    population.ensure_opt_outs(store)
    for key, scope in ((7, "all"), (8, "research")):  # registered as the rights do
        _opt_out(store, key, scope)
    yield store
    store.close()


POPULATIONS = st.builds(
    Population,
    min_age=st.none() | st.integers(4, 12),
    max_age=st.none() | st.integers(5, 13),
    year_groups=st.lists(
        st.sampled_from(["R", *map(str, range(1, 10))]), max_size=3, unique=True
    ).map(tuple),
    la_codes=st.lists(st.sampled_from(sample.LAS), max_size=2, unique=True).map(tuple),
    academic_years=st.lists(st.integers(2021, 2024), max_size=2, unique=True).map(
        tuple
    ),
    key_stages=st.lists(st.sampled_from(["1", "2", "3"]), max_size=2, unique=True).map(
        tuple
    ),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pop=POPULATIONS, dataset=st.sampled_from(["census", "ks_results", "ncmp"]))
def test_the_builder_and_the_checker_read_every_scope_alike(
    shared_world: Store, pop: Population, dataset: str
) -> None:
    """Two independent readings of the same population (the builder's ``scope`` and
    the checker's own SQL) select the same records, opt-outs and all."""
    plan = _plan("pseudonymised", (f"{dataset}.sex",), pop)
    view = population.eligible(shared_world, plan, dataset)
    built = sorted(shared_world.rows(f"SELECT {population.PUPIL_KEY} FROM {view}"))
    checked = sorted(shared_world.rows(promises.in_scope_sql(plan, dataset)))
    assert built == checked
    assert not {k for (k,) in built} & {7, 8}


def test_a_key_stage_2_agreement_gets_ks2_results_and_census_rows_from_years_3_to_6(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = _plan(
        "identified",
        (
            "census.upn",
            "census.census_date",
            "census.ncyear",
            "ks_results.upn",
            "ks_results.academic_year",
            "ks_results.key_stage",
            "ks_results.subject",
        ),
        Population(key_stages=("2",)),
    )
    m = build_release(world, home, plan, tmp_path / "o")
    assert {r["ncyear"] for r in _rows(world, m, "census")} <= {"3", "4", "5", "6"}
    assert {r["key_stage"] for r in _rows(world, m, "ks_results")} == {"2"}


def test_a_manifest_that_names_another_recipient_is_blocked(
    world: Store, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 2 re-verified at delivery: the builder writing another recipient into
    the manifest than the approved plan's (as the audit's attacker did) is refused
    by the check, and nothing is delivered."""
    from pupilshare.release import package

    real = package.write_manifest

    def another_recipient(staging, manifest):
        manifest.recipient = "someone-else"
        return real(staging, manifest)

    monkeypatch.setattr(package, "write_manifest", another_recipient)
    plan = _plan(
        "pseudonymised",
        ("pupil.pupil_pseudonym", "ks_results.outcome"),
        Population(year_groups=("6",)),
    )
    with pytest.raises(Blocked) as refused:
        build_release(world, home, plan, tmp_path / "o")
    assert any("recipient" in r for r in refused.value.errors), refused.value.errors
    assert not (tmp_path / "o").exists()


def test_an_aggregate_built_from_every_record_of_pupils_in_scope_is_blocked(
    world: Store, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 8 for tables: a future builder that widens the scope to every record
    of a pupil who is in scope at some date (the audit's census rows from when
    learners were 9 to 13) counts out-of-scope records in the tables. The check's
    true values come from the same population, and every pupil in the release is
    in scope, so only the check's own reading of the scope, record by record, can
    refuse it."""
    real = population.eligible_sql

    def every_record_of_pupils_in_scope(plan, dataset, tables, opted_join="ANTI"):
        scoped = real(plan, dataset, tables, opted_join)
        wide = dataclasses.replace(plan, population=Population())
        return (
            f"SELECT * FROM ({real(wide, dataset, tables, opted_join)}) w WHERE "
            f"w.{population.PUPIL_KEY} IN (SELECT {population.PUPIL_KEY} "
            f"FROM ({scoped}))"
        )

    plan = _plan(
        "aggregate",
        ("census.ncyear",),
        Population(min_age=10),
        tables=(TableSpec("pupils_by_year_group", "census", ("ncyear",), ()),),
    )
    build_release(world, home, plan, tmp_path / "honest")  # the approved scope passes
    monkeypatch.setattr(population, "eligible_sql", every_record_of_pupils_in_scope)
    with pytest.raises(Blocked) as refused:
        build_release(world, home, plan, tmp_path / "o")
    assert any(
        "census" in r and "outside the agreement's scope" in r
        for r in refused.value.errors
    ), refused.value.errors
    assert not (tmp_path / "o").exists()


def test_every_row_of_an_identified_extract_can_be_filed_by_its_upn(
    world: Store, home: Home, tmp_path: Path
) -> None:
    """Point 6 on the demo: the LA's key stage results carried 26 rows with no
    UPN (pupils the index holds no permanent UPN for: the only identifier of
    that file is the index's), 8 of them repeating another exactly, and the
    check passed them (it looked only at rows that had one). Every row of an
    extract filed by UPN or ULN carries one; rows the recipient could not file
    are withheld and said so in the manifest, and the check refuses any row
    without one."""
    world.rows("UPDATE pupils SET upn = NULL WHERE pupil_key % 7 = 0")
    plan = _plan(
        "identified",
        (
            "pupil.upn",
            "ks_results.academic_year",
            "ks_results.subject",
            "ks_results.outcome",
        ),
        Population(la_codes=("201",)),
    )
    out, pupils = _staged(world, home, plan, tmp_path)
    rows = pq.read_table(out / "ks_results.parquet").to_pylist()
    assert rows and all(r["pupil_upn"] for r in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert any("no UPN or ULN" in r for r in manifest["removed"]), manifest["removed"]
    unfiled = world.one(
        "SELECT count(*) FROM release_pupils r JOIN pupils p USING (pupil_key) "
        "WHERE p.upn IS NULL"
    )
    assert unfiled == 0  # the ledger names only pupils whose rows were released
    f = out / "ks_results.parquet"
    t = pq.read_table(f)
    blank = pa.array([None] * t.num_rows, pa.string())
    _rewrite(f, t.set_column(t.column_names.index("pupil_upn"), "pupil_upn", blank))
    reasons = check.check_release(world, home, plan, out, pupils)
    assert any("without the UPN or ULN" in r for r in reasons), reasons


def test_an_anonymised_class_of_too_few_pupils_is_blocked_however_many_rows(
    world: Store, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 8 for point 4: k counts pupils, not rows. A future builder that
    counts rows lets a class of a few pupils through because each has a census
    row every year (same sex, ethnicity, school); the check counted rows too
    (pycanon over the file), so it passed. The check counts the distinct pupils
    whose records fall in each released class, from the records."""
    from pupilshare.release import anonymise

    plan = _plan(
        "anonymised",
        ("census.sex", "census.ethnicity", "census.laestab", "census.sen_provision"),
        Population(),
        sdc=dataclasses.replace(ANON.sdc, k_anonymity=10, max_suppression=0.05),
    )
    build_release(world, home, plan, tmp_path / "honest")
    for name in ("_classes_sql", "_release_sql"):
        real = getattr(anonymise, name)

        def by_rows(*args, real=real):
            return real(*args).replace(
                f"count(DISTINCT {population.PUPIL_KEY})", "count(*)"
            )

        monkeypatch.setattr(anonymise, name, by_rows)
    with pytest.raises(Blocked) as refused:
        build_release(world, home, plan, tmp_path / "o")
    assert any("distinct pupils" in r for r in refused.value.errors), (
        refused.value.errors
    )
    assert not (tmp_path / "o").exists()
