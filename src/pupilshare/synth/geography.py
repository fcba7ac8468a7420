"""The synthetic nation's places: local authorities, postcodes and schools.

Each local authority gets a real DfE LA number (one a UPN may carry), a two-letter
postcode area, postcodes grouped into small areas (LSOAs) and a health area
(PCT-like code), and primary (Reception-Year 6) and secondary (Year 7-13) schools of
about ``school_size`` pupils. Everything is built as numpy arrays, so a nation of a
million pupils costs the same few calls as one of three hundred.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pupilshare.identifiers import LA_NUMBERS

_AREA_FIRST = "ABCDEFGHKLMNPRSTWY"
_AREA_SECOND = "ABDEFGHLMNPRSTWY"
_UNIT = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward code
_HEALTH = "ABCDEFGHJKLMNPQRTUVWXY"
_PLACES = (
    "Ashfield Brookside Castlegate Dalton Eastwood Fairfield Greenbank Hillcrest "
    "Ivybridge Kingsmead Longford Millbrook Northgate Oakwood Parkside Queensway "
    "Riverside Southfields Thornbury Upton Valley Westfield Whitehall Yarrow Beacon "
    "Cheswick Denholme Elmhurst Foxhill Glenmoor Harewood Kirkby Lowther Marston"
).split()
POSTCODES_PER_PUPIL = 1 / 6
POSTCODES_PER_LSOA = 25


@dataclass(frozen=True)
class World:
    """Places as arrays; per-LA ``*_start``/``*_count`` index into postcodes/schools."""

    la_codes: np.ndarray  # '801', ...
    la_weight: np.ndarray  # share of pupils living in each LA
    postcodes: pa.Table  # catalogue dataset "postcodes"
    pc_start: np.ndarray
    pc_count: np.ndarray
    schools: pa.Table  # catalogue dataset "schools"
    school_la: np.ndarray  # LA index of each school
    prim_start: np.ndarray
    prim_count: np.ndarray
    sec_start: np.ndarray
    sec_count: np.ndarray

    @property
    def laestab(self) -> np.ndarray:
        return np.asarray(self.schools["laestab"].to_pylist())


def _la_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    pool = np.array(sorted(c for c in LA_NUMBERS if int(c) > 5))
    n = min(n, len(pool))
    return np.sort(rng.choice(pool, size=n, replace=False))


def _area_codes(n: int, rng: np.random.Generator) -> list[str]:
    pool = [a + b for a in _AREA_FIRST for b in _AREA_SECOND]
    return [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]


def _postcodes(area: str, n: int, la_index: int) -> list[str]:
    """``n`` distinct postcodes in ``area``: districts 1-20, sector digit, unit."""
    nd = 20
    capacity = nd * 10 * len(_UNIT) ** 2
    # Spread the codes over districts, sectors and units (7919 is prime to capacity).
    k = (np.arange(n) * 7919 + la_index * 101) % capacity
    district = 1 + k % nd
    sector = (k // nd) % 10
    unit = k // (nd * 10)
    u1 = np.array(list(_UNIT))[unit // len(_UNIT) % len(_UNIT)]
    u2 = np.array(list(_UNIT))[unit % len(_UNIT)]
    return [
        f"{area}{d} {s}{a}{b}"
        for d, s, a, b in zip(
            district.tolist(), sector.tolist(), u1.tolist(), u2.tolist(), strict=True
        )
    ]


def build_world(pupils: int, school_size: int, rng: np.random.Generator) -> World:
    """LAs, postcodes and schools sized for ``pupils`` people over the window."""
    on_roll = max(1, int(pupils * 0.72))  # pupils on roll in a typical term
    n_schools = max(6, round(on_roll / school_size))
    n_las = max(3, min(round(n_schools / 15), 150))
    la_codes = _la_numbers(n_las, rng)
    n_las = len(la_codes)
    weight = rng.lognormal(0.0, 0.35, size=n_las)
    weight /= weight.sum()
    areas = _area_codes(n_las, rng)

    pc_rows: dict[str, list] = {
        "postcode": [],
        "lsoa": [],
        "la_code": [],
        "health_area": [],
    }
    pc_start = np.zeros(n_las, dtype=np.int64)
    pc_count = np.zeros(n_las, dtype=np.int64)
    lsoa_seq = 0
    for i, (la, area) in enumerate(zip(la_codes.tolist(), areas, strict=True)):
        n_pc = max(40, int(pupils * weight[i] * POSTCODES_PER_PUPIL))
        codes = _postcodes(area, n_pc, i)
        pc_start[i] = len(pc_rows["postcode"])
        pc_count[i] = n_pc
        k = np.arange(n_pc)
        lsoa = lsoa_seq + k // POSTCODES_PER_LSOA
        lsoa_seq = int(lsoa.max()) + 1
        health = (
            f"5{_HEALTH[i // len(_HEALTH) % len(_HEALTH)]}{_HEALTH[i % len(_HEALTH)]}"
        )
        pc_rows["postcode"].extend(codes)
        pc_rows["lsoa"].extend(f"E01{v:06d}" for v in lsoa.tolist())
        pc_rows["la_code"].extend([la] * n_pc)
        pc_rows["health_area"].extend([health] * n_pc)

    # Primary phase is 7 year groups; secondary 5 plus a sixth form about half stay in.
    prim_share = 7 / (7 + 5 + 2 * 0.55)
    sch: dict[str, list] = {
        "laestab": [],
        "school_name": [],
        "la_code": [],
        "phase": [],
    }
    school_la: list[int] = []
    starts = {
        "primary": np.zeros(n_las, np.int64),
        "secondary": np.zeros(n_las, np.int64),
    }
    counts = {
        "primary": np.zeros(n_las, np.int64),
        "secondary": np.zeros(n_las, np.int64),
    }
    for i, la in enumerate(la_codes.tolist()):
        la_roll = on_roll * weight[i]
        for phase, share, base, suffix in (
            ("primary", prim_share, 2000, "Primary School"),
            ("secondary", 1 - prim_share, 4000, "Academy"),
        ):
            n = max(1, round(la_roll * share / school_size))
            starts[phase][i] = len(school_la)
            counts[phase][i] = n
            places = rng.choice(len(_PLACES), size=n)
            for j in range(n):
                sch["laestab"].append(f"{la}{base + 1 + j:04d}")
                sch["school_name"].append(f"{_PLACES[places[j]]} {suffix}")
                sch["la_code"].append(la)
                sch["phase"].append(phase)
                school_la.append(i)
    return World(
        la_codes=la_codes,
        la_weight=weight,
        postcodes=pa.table({k: pa.array(v, pa.string()) for k, v in pc_rows.items()}),
        pc_start=pc_start,
        pc_count=pc_count,
        schools=pa.table({k: pa.array(v, pa.string()) for k, v in sch.items()}),
        school_la=np.asarray(school_la, dtype=np.int64),
        prim_start=starts["primary"],
        prim_count=counts["primary"],
        sec_start=starts["secondary"],
        sec_count=counts["secondary"],
    )
