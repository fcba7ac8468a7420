"""NCMP heights and weights follow real growth (UK90), by age and sex."""

from __future__ import annotations

import numpy as np

from pupilshare import growth


def _ncmp(con) -> dict[str, np.ndarray]:
    return con.execute("""
        SELECT school_year, sex, date_of_birth::DATE AS dob,
               measurement_date::DATE AS measured, height_cm::DOUBLE AS h,
               weight_kg::DOUBLE AS w
        FROM ncmp WHERE date_of_birth NOT LIKE '%-02-31'""").fetchnumpy()


def test_height_sds_is_centred_on_the_reference(con) -> None:
    d = _ncmp(con)
    z = growth.zscores("height", d["sex"], d["dob"], d["measured"], d["h"])
    assert np.isfinite(z).mean() > 0.99
    z = z[np.isfinite(z)]
    assert abs(z.mean()) < 0.15 and 0.8 < z.std() < 1.2


def test_bmi_runs_above_the_1990_reference_as_in_ncmp(con) -> None:
    d = _ncmp(con)
    c = growth.bmi_centiles(
        d["sex"], d["dob"], d["measured"], d["w"] / (d["h"] / 100) ** 2
    )
    obese = np.nanmean(c >= 95)
    assert 0.05 < obese < 0.35  # NCMP: about 10% in Reception, 20%+ in Year 6


def test_heights_and_weights_fit_age_and_sex(con) -> None:
    rows = con.execute("""
        SELECT school_year, sex, avg(height_cm::DOUBLE), avg(weight_kg::DOUBLE),
               count(*)
        FROM ncmp GROUP BY ALL ORDER BY ALL""").fetchall()
    seen = {(yr, sex): (h, w) for yr, sex, h, w, _ in rows}
    assert set(seen) == {("R", "F"), ("R", "M"), ("6", "F"), ("6", "M")}
    for sex in "FM":
        h, w = seen[("R", sex)]
        assert 104 < h < 116 and 16 < w < 24
        h, w = seen[("6", sex)]
        assert 138 < h < 152 and 32 < w < 46
