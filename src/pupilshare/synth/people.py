"""The population and its life course, drawn once as numpy arrays.

Each person belongs to a Reception cohort (the academic year they start school), so
their date of birth fits the National Curriculum year rule: age on 31 August at the
start of an academic year = year group + 5. They join (a new Reception cohort each
year, or arrive mid-way), move home (and often school and LA), change surname, get a
temporary UPN before a permanent one, receive a ULN from 14, and leave (after Year 11
or 13, or by moving away). Characteristics and a latent ability drive the returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from pupilshare.identifiers import UPN_LETTERS
from pupilshare.synth import names
from pupilshare.synth.geography import World

NEVER = 1_000_000  # a term index no one reaches
TERMS = ("autumn", "spring", "summer")

_ETHNICITY = {
    "WBRI": 0.64,
    "WIRI": 0.002,
    "WIRT": 0.001,
    "WROM": 0.004,
    "WOTH": 0.065,
    "MWBC": 0.015,
    "MWBA": 0.008,
    "MWAS": 0.017,
    "MOTH": 0.022,
    "AIND": 0.035,
    "APKN": 0.045,
    "ABAN": 0.018,
    "AOTH": 0.02,
    "BCRB": 0.01,
    "BAFR": 0.04,
    "BOTH": 0.006,
    "CHNE": 0.005,
    "OOTH": 0.02,
    "REFU": 0.005,
    "NOBT": 0.006,
}
# Chance a pupil's first language is other than English, by ethnic group prefix.
_OTHER_LANGUAGE = {
    "WBRI": 0.01,
    "WIRI": 0.05,
    "WIRT": 0.02,
    "W": 0.6,
    "M": 0.1,
    "A": 0.55,
    "B": 0.45,
    "C": 0.6,
    "O": 0.6,
    "R": 0.2,
    "N": 0.2,
}


@dataclass(frozen=True)
class Spec:
    """What to synthesise: the seed and size fix every byte of the output."""

    pupils: int
    seed: int
    first_year: int = 2021  # first academic year (its first calendar year)
    years: int = 4
    school_size: int = 200

    @property
    def n_terms(self) -> int:
        return 3 * self.years


def _thursday(y: int, m: int, nth: int) -> date:
    first = date(y, m, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 7 * (nth - 1))


def census_day(year: int, term: int) -> date:
    """Autumn: first Thursday of October; spring: third of January; summer: of May."""
    if term == 0:
        return _thursday(year, 10, 1)
    return _thursday(year + 1, 1 if term == 1 else 5, 3)


def terms_table(spec: Spec) -> pa.Table:
    t = np.arange(spec.n_terms)
    return pa.table(
        {
            "t": pa.array(t, pa.int32()),
            "year": pa.array(spec.first_year + t // 3, pa.int32()),
            "term": pa.array([TERMS[i % 3] for i in t.tolist()], pa.string()),
            "census_date": pa.array(
                [census_day(spec.first_year + i // 3, i % 3) for i in t.tolist()],
                pa.date32(),
            ),
        }
    )


def _zipf_choice(rng: np.random.Generator, n: int, k: int, shift: float) -> np.ndarray:
    p = 1.0 / (np.arange(k) + shift)
    return rng.choice(k, size=n, p=p / p.sum())


def _upn_letters(bodies: np.ndarray) -> np.ndarray:
    """Check letters for 12-character UPN bodies, vectorised."""
    raw = np.frombuffer(bodies.astype("S12").tobytes(), dtype=np.uint8).reshape(-1, 12)
    lookup = np.zeros(256, dtype=np.int64)
    lookup[48:58] = np.arange(10)
    for i, ch in enumerate(UPN_LETTERS):
        lookup[ord(ch)] = i
    total = (lookup[raw] * np.arange(2, 14)).sum(axis=1)
    return np.array(list(UPN_LETTERS))[total % 23]


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """0-based rank of each element among equal keys, in index order."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.r_[0, np.flatnonzero(sk[1:] != sk[:-1]) + 1]
    lengths = np.diff(np.r_[starts, len(sk)])
    rank_sorted = np.arange(len(sk)) - np.repeat(starts, lengths)
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    return rank


def make_upns(
    laestab: np.ndarray, year: np.ndarray, serial: np.ndarray, temporary: bool = False
) -> np.ndarray:
    """UPNs from school, year of allocation and serial (temporary: ends in a letter)."""
    if temporary:
        letters = np.array(list(UPN_LETTERS))
        tail = np.char.add(
            np.char.zfill((serial // 23).astype(str), 2), letters[serial % 23]
        )
    else:
        tail = np.char.zfill(serial.astype(str), 3)
    body = np.char.add(
        np.char.add(laestab.astype(str), np.char.zfill((year % 100).astype(str), 2)),
        tail,
    )
    return np.char.add(_upn_letters(body), body)


def make_ulns(n: int, base: int) -> np.ndarray:
    """``n`` distinct valid ULNs from consecutive 9-digit stems from ``base``."""
    stems = base + np.arange(int(n * 1.2) + 20, dtype=np.int64)
    digits = (stems[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    r = (digits * np.arange(10, 1, -1)).sum(axis=1) % 11
    ok = r != 0
    ulns = stems[ok] * 10 + (10 - r[ok])
    return ulns[:n].astype(str)


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), pa.date32())


def build_people(spec: Spec, world: World, rng: np.random.Generator) -> pa.Table:
    """One row per person: identity, characteristics, life course and fault flags."""
    n, fy, nt = spec.pupils, spec.first_year, spec.n_terms
    ids = np.arange(1, n + 1, dtype=np.int64)
    cohorts = np.arange(fy - 13, fy + spec.years)
    # Cohorts whose Year 11 ended before the window are seen only if they stayed on.
    w = np.where(cohorts + 11 < fy, 0.55, 1.0)
    cohort = rng.choice(cohorts, size=n, p=w / w.sum())
    leaver = (rng.random(n) < 0.45) & (cohort + 11 >= fy)
    start = np.maximum(0, 3 * (cohort - fy))
    end = np.minimum(nt - 1, 3 * (cohort + np.where(leaver, 11, 13) - fy) + 2)
    arrival = (rng.random(n) < 0.04) & (end > start)
    start = np.where(
        arrival, start + 1 + (rng.random(n) * (end - start)).astype(int), start
    )
    departs = (rng.random(n) < 0.05) & (end > start)
    end = np.where(departs, start + (rng.random(n) * (end - start)).astype(int), end)

    lo = np.array([f"{c - 5}-09-01" for c in cohorts], "datetime64[D]").astype(np.int64)
    span = (
        np.array([f"{c - 4}-09-01" for c in cohorts], "datetime64[D]").astype(np.int64)
    ) - lo
    ci = cohort - cohorts[0]
    dob = lo[ci] + (rng.random(n) * span[ci]).astype(np.int64)

    sex = np.where(rng.random(n) < 0.51, "M", "F")
    boys, girls = np.array(names.BOYS), np.array(names.GIRLS)
    forename = np.where(
        sex == "M",
        boys[_zipf_choice(rng, n, len(boys), 6)],
        girls[_zipf_choice(rng, n, len(girls), 6)],
    )
    surnames = np.array(names.SURNAMES)
    surname = surnames[_zipf_choice(rng, n, len(surnames), 4)]

    depriv = rng.standard_normal(n)
    ability = -0.35 * depriv + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    eth_codes = np.array(list(_ETHNICITY))
    p = np.array(list(_ETHNICITY.values()))
    eth = rng.choice(len(p), size=n, p=p / p.sum())
    ethnicity = eth_codes[eth]
    p_other = np.array(
        [_OTHER_LANGUAGE.get(e, _OTHER_LANGUAGE[e[0]]) for e in eth_codes]
    )[eth]
    u = rng.random(n)
    language = np.select(
        [u < 0.01, u < 0.013, u < 0.013 + p_other], ["NOT", "REF", "OTH"], "ENG"
    )
    need = -0.9 * ability + 0.6 * rng.standard_normal(n)
    sen = np.select([need > 1.9, need > 1.1], ["E", "K"], "N")  # ~4% and ~12%

    # Where they live and learn: before (a) and after (b) their one move, if any.
    la_a = rng.choice(len(world.la_codes), size=n, p=world.la_weight)
    moves = (rng.random(n) < 0.15) & (end > start)
    move_t = np.where(
        moves, start + 1 + (rng.random(n) * (end - start)).astype(int), NEVER
    )
    other_la = moves & (rng.random(n) < 0.3)
    la_b = np.where(
        other_la, rng.choice(len(world.la_codes), size=n, p=world.la_weight), la_a
    )
    new_school = other_la | (la_b != la_a) | (moves & (rng.random(n) < 0.4))

    def pick(start_arr: np.ndarray, count: np.ndarray, la: np.ndarray) -> np.ndarray:
        return start_arr[la] + (rng.random(n) * count[la]).astype(np.int64)

    pc_a, pc_b = (
        pick(world.pc_start, world.pc_count, la_a),
        pick(world.pc_start, world.pc_count, la_b),
    )
    prim_a, sec_a = (
        pick(world.prim_start, world.prim_count, la_a),
        pick(world.sec_start, world.sec_count, la_a),
    )
    prim_b = np.where(
        new_school, pick(world.prim_start, world.prim_count, la_b), prim_a
    )
    sec_b = np.where(new_school, pick(world.sec_start, world.sec_count, la_b), sec_a)

    # Identifiers: the permanent UPN comes from the first school the pupil is seen at.
    start_year = fy + start // 3
    first_school = np.where(start_year - cohort <= 6, prim_a, sec_a)
    laestab = world.laestab
    alloc_year = np.where(arrival, start_year, cohort)
    serial = _rank_within(first_school * 100 + alloc_year % 100)
    if serial.max(initial=0) >= 1000:
        raise ValueError("school_size too large: UPN serials exhausted")
    upn = make_upns(laestab[first_school], alloc_year, serial)
    temp = (start > 0) & (rng.random(n) < np.where(arrival, 0.4, 0.03))
    tserial = _rank_within(np.where(temp, first_school * 100 + start_year % 100, -1))
    temp_upn = make_upns(laestab[first_school], start_year, tserial, temporary=True)
    temp_until = np.where(temp, start + 1 + (rng.random(n) < 0.4), -1)
    uln_eligible = cohort + 10 <= fy + spec.years - 1
    has_uln = uln_eligible & (rng.random(n) < 0.92)
    uln = np.full(n, None, dtype=object)
    uln[has_uln] = rng.permutation(
        make_ulns(int(has_uln.sum()), 100_000_000 + (spec.seed % 50_000) * 10_000)
    )

    # Faults carried by the person: a changed surname, a variant forename and a
    # day/month swap recorded by their secondary school.
    changes = (rng.random(n) < 0.012) & (end > start)
    surname_t = np.where(
        changes, start + 1 + (rng.random(n) * (end - start)).astype(int), NEVER
    )
    new_idx = _zipf_choice(rng, n, len(surnames), 4)
    new_surname = surnames[new_idx]
    new_surname = np.where(
        new_surname == surname, surnames[(new_idx + 1) % len(surnames)], new_surname
    )
    d = dob.astype("datetime64[D]")
    month = (d.astype("datetime64[M]").astype(int) % 12) + 1
    day = (d - d.astype("datetime64[M]")).astype(int) + 1
    swappable = (day <= 12) & (day != month) & ((month >= 9) == (day >= 9))

    cols: dict[str, pa.Array | np.ndarray] = {
        "person_id": ids,
        "cohort": cohort.astype(np.int32),
        "start_t": start.astype(np.int32),
        "end_t": end.astype(np.int32),
        "arrival": arrival,
        "dob": _dates(dob),
        "swappable": swappable,
        "sex": sex,
        "forename": forename,
        "surname": surname,
        "ethnicity": ethnicity,
        "first_language": language,
        "sen": sen,
        "ability": ability,
        "depriv": depriv,
        "move_t": move_t.astype(np.int32),
        "pc_a": pc_a,
        "pc_b": pc_b,
        "prim_a": prim_a,
        "sec_a": sec_a,
        "prim_b": prim_b,
        "sec_b": sec_b,
        "upn": upn,
        "temp_upn": pa.array(np.where(temp, temp_upn, None)),
        "temp_until": temp_until.astype(np.int32),
        "uln": pa.array(uln, pa.string()),
        "uln_in_census": rng.random(n) < 0.6,
        "surname_t": surname_t.astype(np.int32),
        "new_surname": new_surname,
        "variant": rng.random(n) < 0.03,
        "dobswap": swappable & (rng.random(n) < 0.04),
        "k": rng.integers(0, 2**30, size=n),
        "house": rng.integers(1, 140, size=n),
        "h_sds": rng.standard_normal(n),
        "b_sds": rng.standard_normal(n),
    }
    # Uniforms for per-dataset faults and sampling (f0..f8), fixed per person.
    for i in range(9):
        cols[f"f{i}"] = rng.random(n)
    return pa.table(cols)


def fsm_table(spec: Spec, people: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Free school meal eligibility per person and academic year (it changes)."""
    n = people.num_rows
    depriv = people["depriv"].to_numpy()
    ids = np.repeat(people["person_id"].to_numpy(), spec.years)
    years = np.tile(spec.first_year + np.arange(spec.years), n)
    score = 0.8 * np.repeat(depriv, spec.years) + 0.6 * rng.standard_normal(
        n * spec.years
    )
    return pa.table(
        {
            "person_id": ids,
            "year": years.astype(np.int32),
            "fsm": np.where(score > 0.75, "Y", "N"),
        }
    )
