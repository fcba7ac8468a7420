"""The survey draw: reproducible in its seed, proportional across strata, exactly
the size asked, one contact per pupil (table in, table out)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare.rights.survey import sample_sql
from pupilshare.store import Store


def _frame(store: Store, pupils: int) -> None:
    store.rows(
        "CREATE OR REPLACE TABLE frame AS SELECT i AS __pupil_key, "
        "DATE '2024-01-01' + CAST(i % 3 AS INTEGER) AS collected_date, "
        "i AS line, "
        "'P' || i AS parent_name FROM range(1, ?) t(i) "
        "UNION ALL SELECT 1, DATE '2020-01-01', 0, 'old contact'",
        [pupils + 1],
    )
    store.rows(
        "CREATE OR REPLACE TABLE attrs AS SELECT i AS pupil_key, "
        "CASE WHEN i % 4 = 0 THEN 'Y' ELSE 'N' END AS fsm, "
        "CASE WHEN i % 3 = 0 THEN '800s' ELSE '300s' END AS region "
        "FROM range(1, ?) t(i)",
        [pupils + 1],
    )


def _draw(store: Store, size: int, seed: int) -> list[tuple]:
    sql = sample_sql(
        "frame", "SELECT * FROM attrs", ("region", "fsm"), size, seed, ["parent_name"]
    )
    return store.rows(f"SELECT pupil_key, parent_name, region, fsm FROM ({sql})")


def test_reproducible_and_proportional() -> None:
    store = Store()
    _frame(store, 1200)
    a, b = _draw(store, 120, 7), _draw(store, 120, 7)
    assert a == b and len(a) == 120 and len({r[0] for r in a}) == 120
    assert _draw(store, 120, 8) != a
    fsm_y = sum(r[3] == "Y" for r in a)
    assert fsm_y == 30  # a quarter of the frame, a quarter of the sample
    assert "old contact" not in {r[1] for r in a}  # the latest contact only


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.integers(1, 400), st.integers(0, 10**6))
def test_exact_size_capped_by_the_frame(pupils: int, size: int, seed: int) -> None:
    store = Store()
    _frame(store, pupils)
    got = _draw(store, size, seed)
    assert len(got) == min(size, pupils)
    assert len({r[0] for r in got}) == len(got)


def test_a_parent_whose_latest_contact_refuses_is_never_drawn() -> None:
    """An older record that agreed does not bring back a parent who since said no."""
    store = Store()
    _frame(store, 50)
    store.rows("CREATE TABLE refused AS SELECT 7 AS pupil_key UNION SELECT 9")
    sql = sample_sql(
        "frame",
        "SELECT * FROM attrs",
        ("fsm",),
        50,
        1,
        ["parent_name"],
        "SELECT pupil_key FROM refused",
    )
    got = {r[0] for r in store.rows(f"SELECT pupil_key FROM ({sql})")}
    assert len(got) == 48 and not got & {7, 9}
