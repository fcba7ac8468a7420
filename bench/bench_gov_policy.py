"""How fast the one decision point answers, against bare Cedar in the same run.

Baseline: ``cedarpy.is_authorized`` on the same request with the policy and schema
passed as text (parsed on every call). Measured: the same with handles parsed once,
and ``policy.decide`` as callers use it (entities built from the records, the answer
written to ``disclosure_decisions``). Run:

    PYTHONPATH=src python bench/bench_gov_policy.py [--n 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cedarpy

from pupilshare.governance import db, policy, seeds
from pupilshare.governance.models import Agreement


def timed(fn, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    n = ap.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'gov.sqlite'}"
        started = time.perf_counter()
        with db.factory(url)() as s:
            out = seeds.load_all(s)
        seed_s = time.perf_counter() - started
        with db.factory(url)() as s:
            ag = s.get(Agreement, "lrs-uln-plr")
            items, purpose = ["census.uln", "census.surname"], ag.purpose
            pol = policy.policy()
            ents, principal, _ = policy._entities(s, "lrs.officer", ag)
            a = policy.decide(s, "lrs.officer", ag.agreement_id, items, purpose)
            assert a.allowed
            req = {
                "principal": {"type": "User", "id": principal},
                "action": {"type": "Action", "id": "download"},
                "resource": {"type": "Agreement", "id": ag.agreement_id},
                "context": {
                    "items": items,
                    "purpose": purpose,
                    "today": 739000 + 0,
                    "min_age": 14,
                    "max_age": 200,
                    "la_codes": [],
                },
            }
            base = timed(
                lambda: cedarpy.is_authorized(req, pol.text, ents, pol.schema), n
            )
            handles = timed(
                lambda: cedarpy.is_authorized(
                    req, pol.policies, ents, pol.schema_handle
                ),
                n,
            )
            full = timed(
                lambda: policy.decide(
                    s, "lrs.officer", ag.agreement_id, items, purpose
                ),
                n,
            )
            s.commit()
        db.dispose(url)
    print(f"seeds: {len(out.active)} agreements made live in {seed_s:.2f} s")
    print(f"cedar, text policy (baseline): {base * 1e3:.3f} ms/decision")
    print(
        f"cedar, parsed handles:         {handles * 1e3:.3f} ms/decision "
        f"({base / handles:.1f}x faster than baseline)"
    )
    print(
        f"policy.decide with record:     {full * 1e3:.3f} ms/decision "
        f"({full / base:.2f}x the baseline)"
    )


if __name__ == "__main__":
    main()
