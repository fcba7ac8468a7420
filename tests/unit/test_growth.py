"""The UK90 table reproduces rcpchgrowth, in numpy and in DuckDB SQL."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rcpchgrowth import Measurement
from scipy.special import ndtr

from pupilshare import growth
from pupilshare.store import Store

# (sex, born, measured, height cm, weight kg): the domain example first.
CHILDREN = [
    ("M", date(2013, 3, 15), date(2024, 2, 1), 145.0, 42.0),
    ("F", date(2018, 9, 1), date(2023, 1, 10), 104.2, 17.1),
    ("M", date(2019, 8, 31), date(2023, 11, 20), 99.0, 14.0),
    ("F", date(2012, 12, 25), date(2023, 6, 5), 151.3, 52.5),
    ("M", date(2008, 1, 2), date(2024, 3, 3), 180.1, 71.0),
    ("F", date(2006, 5, 20), date(2024, 5, 19), 160.0, 48.0),
]


def _rcpch(sex: str, born: date, measured: date, method: str, value: float) -> float:
    m = Measurement(
        sex="male" if sex == "M" else "female",
        birth_date=born,
        observation_date=measured,
        measurement_method=method,
        observation_value=value,
        reference="uk-who",
    )
    return m.measurement["measurement_calculated_values"]["chronological_sds"]


def test_table_has_every_day_for_both_sexes_and_three_measurements() -> None:
    t = growth.lms_table()
    days = growth.AGE_MAX_DAYS - growth.AGE_MIN_DAYS + 1
    assert t.num_rows == 2 * 3 * days
    assert t.column_names == ["sex", "measurement", "age_days", "l", "m", "s"]


@pytest.mark.parametrize("child", CHILDREN)
def test_zscores_agree_with_rcpchgrowth(child: tuple) -> None:
    sex, born, measured, height, weight = child
    bmi = weight / (height / 100) ** 2
    for method, value in (("height", height), ("weight", weight), ("bmi", bmi)):
        ours = growth.zscores(method, [sex], [born], [measured], [value])[0]
        assert ours == pytest.approx(
            _rcpch(sex, born, measured, method, value), abs=1e-3
        )


def test_domain_example_centile_is_about_90_5() -> None:
    c = growth.bmi_centiles(
        ["M"], [date(2013, 3, 15)], [date(2024, 2, 1)], [42.0 / 1.45**2]
    )
    assert c[0] == pytest.approx(90.49, abs=0.01)


def test_outside_the_reference_is_nan_not_a_guess() -> None:
    c = growth.bmi_centiles(
        ["M", "U", "F"],
        [date(2022, 1, 1), date(2015, 1, 1), date(2000, 1, 1)],
        [date(2024, 1, 1)] * 3,
        [16.0, 16.0, 22.0],
    )
    assert np.isnan(c).all()


def test_sql_matches_numpy_for_every_child() -> None:
    with Store() as store:
        assert growth.register_lms(store) == "growth_lms"
        rows = store.rows(
            "SELECT c.i, "
            + growth.zscore_sql("c.bmi", "g.l", "g.m", "g.s")
            + ", "
            + growth.centile_sql(growth.zscore_sql("c.bmi", "g.l", "g.m", "g.s"))
            + " FROM (SELECT unnest(?) AS i, unnest(?) AS sex, unnest(?) AS age, "
            "unnest(?) AS bmi) c JOIN growth_lms g ON g.sex = c.sex AND "
            "g.measurement = 'bmi' AND g.age_days = c.age ORDER BY c.i",
            [
                list(range(len(CHILDREN))),
                [c[0] for c in CHILDREN],
                [(c[2] - c[1]).days for c in CHILDREN],
                [c[4] / (c[3] / 100) ** 2 for c in CHILDREN],
            ],
        )
    for (i, z, centile), child in zip(rows, CHILDREN, strict=True):
        sex, born, measured, height, weight = child
        want = growth.bmi_zscores(
            [sex], [born], [measured], [weight / (height / 100) ** 2]
        )
        assert z == pytest.approx(want[0], abs=1e-9), i
        assert centile == pytest.approx(100 * ndtr(want[0]), abs=1e-5), i


# One engine for the property tests: a connection per example would dominate.
ENGINE = Store()


@given(st.floats(-8, 8))
@settings(max_examples=100, deadline=None)
def test_centile_sql_is_the_normal_cdf(z: float) -> None:
    got = ENGINE.one(f"SELECT {growth.centile_sql(str(z))}")
    assert got == pytest.approx(100 * ndtr(z), abs=1e-5)


@given(
    z=st.floats(-4, 4),
    lam=st.sampled_from([0.0, -1.5, -0.3, 0.5, 1.0, 2.2]),
    m=st.floats(10, 180),
    s=st.floats(0.02, 0.2),
)
@settings(max_examples=100, deadline=None)
def test_value_from_z_inverts_zscore_including_l_zero(
    z: float, lam: float, m: float, s: float
) -> None:
    lms = (str(lam), str(m), str(s))
    x = ENGINE.one(f"SELECT {growth.value_from_z_sql(str(z), *lms)}")
    if x is None:  # 1 + L*S*z <= 0: no such value
        assert 1 + lam * s * z <= 0
        return
    back = ENGINE.one(f"SELECT {growth.zscore_sql(str(x), *lms)}")
    assert back == pytest.approx(z, abs=1e-6)


@pytest.mark.parametrize(
    "centile, category",
    [
        (1.0, "underweight"),
        (2.0, "underweight"),
        (2.1, "healthy weight"),
        (84.9, "healthy weight"),
        (85.0, "overweight"),
        (95.0, "obese"),
        (99.59, "obese"),
        (99.6, "severely obese"),
    ],
)
def test_ncmp_population_categories(centile: float, category: str) -> None:
    assert ENGINE.one(f"SELECT {growth.weight_category_sql(str(centile))}") == category
