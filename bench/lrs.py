"""The learner service under load: ULN look-ups (verify by ULN, surname and date
of birth) at 10 M learners, 50 clients at once on loopback, the abuse watch on.

    PYTHONPATH=src python bench/lrs.py [--learners 10000000] [--clients 50]
        [--seconds 60] [--rate 1] [--db postgresql+psycopg://postgres@127.0.0.1/postgres]
        [--record]

The register is generated directly in SQL (PostgreSQL ``generate_series``: names,
dates, postcodes and valid ULNs with their check digits computed in SQL) into a
database of its own, ``lrs_bench_N``, made once and reused. The service runs as
``pupilshare serve`` in its own process (one uvicorn worker), with that database as
its records, the abuse watch and the ledger sealer on. Each client is a machine
client of one awarding organisation (its own API token) sending ``--rate`` look-ups
a second (Poisson), each a random learner; one in ten asks with a wrong surname
(answered ``no_match``). The baseline in the same run is the bare health check.
Goal (issue 15): p99 < 50 ms, no errors. Run it under ``flock /work/bench.lock``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from serve import _exe, free_port, pct  # noqa: E402

FORENAMES = ["Amir", "Beth", "Chen", "Dara", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jo"]
SURNAMES = ["Okafor", "Patel", "Quinn", "Roberts", "Singh", "Taylor", "Usman", "Vance"]
BASE_DOB = date(2006, 1, 1)
FIRST_STEM = 100_000_000


def _arr(xs: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{x}'" for x in xs) + "]"


def generate_sql(n: int) -> str:
    """``n`` learners with valid ULNs (stems whose check digit exists), in SQL.
    Learner ``i``'s details are functions of ``i`` (``details`` below)."""
    weights = " + ".join(
        f"substr(s.stem, {k}, 1)::int * {11 - k}" for k in range(1, 10)
    )
    return f"""
    INSERT INTO lrs_learners (learner_id, uln, forenames, surname, date_of_birth,
        sex, postcode, upn, forename_key, surname_key, birth_year, pupil_key,
        source, created_by, created_at)
    SELECT row_number() OVER (ORDER BY c.i), c.stem || (10 - c.r)::text,
        c.fn, c.sn, c.dob, c.sex, c.pc, NULL, lower(c.fn), lower(c.sn),
        extract(year FROM c.dob)::int, NULL, 'bench', 'bench', now()
    FROM (
        SELECT s.i, s.stem, ({weights}) % 11 AS r,
            ({_arr(FORENAMES)})[1 + (s.i * 7) % {len(FORENAMES)}] AS fn,
            ({_arr(SURNAMES)})[1 + (s.i * 13) % {len(SURNAMES)}] ||
                translate((s.i % 9973)::text, '0123456789', 'abcdefghij') AS sn,
            DATE '{BASE_DOB}' + ((s.i * 31) % 1500)::int AS dob,
            CASE WHEN s.i % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
            'LS' || (1 + s.i % 20)::text || ' ' || (1 + s.i % 9)::text || 'AB' AS pc
        FROM (SELECT i, ({FIRST_STEM} + i)::text AS stem
              FROM generate_series(0, {int(n * 1.12) + 1000}) i) s
    ) c
    WHERE c.r <> 0
    ORDER BY c.i
    LIMIT {n}
    """


def details(i: int) -> tuple[str, str]:
    """(surname, date of birth) of generated stem ``i``, as the SQL makes them."""
    tail = str(i % 9973).translate(str.maketrans("0123456789", "abcdefghij"))
    sn = SURNAMES[(i * 13) % len(SURNAMES)] + tail
    return sn, (BASE_DOB + timedelta(days=(i * 31) % 1500)).isoformat()


def uln_of(i: int) -> str | None:
    stem = str(FIRST_STEM + i)
    r = sum(int(d) * (10 - k) for k, d in enumerate(stem)) % 11
    return None if r == 0 else stem + str(10 - r)


def ensure_db(admin_url: str, n: int) -> str:
    name = f"lrs_bench2_{n}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        exists = con.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if not exists:
            con.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    from pupilshare.lrs import db

    db.factory(url)  # migrate
    eng = sa.create_engine(url)
    with eng.begin() as con:
        have = con.execute(sa.text("SELECT count(*) FROM lrs_learners")).scalar()
    if have != n:
        print(f"generating {n:,} learners in SQL ...", flush=True)
        t = time.perf_counter()
        from pupilshare.lrs.models import Learner

        with eng.begin() as con:
            con.execute(sa.text("SET LOCAL work_mem = '256MB'"))
            con.execute(sa.text("SET LOCAL maintenance_work_mem = '1GB'"))
            con.execute(sa.text("TRUNCATE lrs_learners"))
            for idx in Learner.__table__.indexes:  # built once, after the rows
                idx.drop(con, checkfirst=True)
            con.execute(sa.text(generate_sql(n)))
            for idx in Learner.__table__.indexes:
                idx.create(con)
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as con:
            con.execute(sa.text("VACUUM ANALYZE lrs_learners"))
        print(f"  generated in {time.perf_counter() - t:.0f} s", flush=True)
    eng.dispose()
    db.dispose()
    return url


def setup(home: Path, url: str, clients: int) -> list[str]:
    """An awarding organisation with a large stated volume, one user per client,
    each with an API token."""
    os.environ["PUPILSHARE_DB_URL"] = url
    from pupilshare import governance, identity, lrs
    from pupilshare.config import Home
    from pupilshare.governance import Principal
    from pupilshare.identity import LOCAL_OPERATOR

    h = Home.resolve(home).ensure()
    tokens = []
    with governance.session_scope(h) as s:
        try:
            governance.add_org(
                s,
                LOCAL_OPERATOR,
                "bench-ao",
                "Bench AO",
                "awarding organisation",
                "AO-1",
            )
        except Exception:  # noqa: BLE001 - made by an earlier run
            pass
    run = datetime.now(UTC).strftime("%H%M%S")
    with governance.session_scope(h) as s:
        for c in range(clients):
            name = f"bench.c{c}.{run}"
            governance.add_user(
                s, LOCAL_OPERATOR, name, "Bench", "bench-ao", ["lrs_user"]
            )
            who = Principal(name, "bench-ao", frozenset({"lrs_user"}), via="password")
            tokens.append(identity.create_token(s, who, "bench", days=1)[0])
    ops = Principal("ops", "department", frozenset({"data_operations"}), via="password")
    if not lrs.list_agreements(h, ops):
        lrs.add_agreement(
            h,
            ops,
            "bench-ao-lrs",
            "bench-ao",
            "verify candidates' ULNs before awarding",
            9_000_000,
            ["uln", "forenames", "surname", "date_of_birth"],
        )
    return tokens


def start(home: Path, url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PUPILSHARE_DB_URL": url}
    proc = subprocess.Popen(
        [_exe(), "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the service did not start")


async def client_loop(
    http: httpx.AsyncClient,
    token: str,
    n: int,
    until: float,
    rate: float,
    seen: dict[str, list[float]],
    errors: dict[str, int],
    rng: random.Random,
    outcomes: dict[str, int],
) -> None:
    """One machine client: Poisson arrivals at ``rate``; an error is any answer
    other than 200 (counted by status too, ``outcomes["http NNN"]``)."""
    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(rng.uniform(0, 1 / rate))
    while time.monotonic() < until:
        if rng.random() < 0.05:
            kind, started = "healthz", time.perf_counter()
            try:
                r = await http.get("/healthz")
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
        else:
            i = rng.randrange(int(n * 1.05))
            uln = uln_of(i)
            while uln is None:
                i += 1
                uln = uln_of(i)
            sn, dob = details(i)
            if rng.random() < 0.1:
                sn = "Wrong"
            kind, started = "verify", time.perf_counter()
            try:
                r = await http.post(
                    "/api/lrs/verify",
                    json={"uln": uln, "surname": sn, "date_of_birth": dob},
                    headers=headers,
                )
                ok = r.status_code == 200
                if ok:
                    outcomes[r.json()["outcome"]] += 1
                else:
                    outcomes[f"http {r.status_code}"] += 1
            except httpx.HTTPError as e:
                outcomes[type(e).__name__] += 1
                ok = False
        seen[kind].append(time.perf_counter() - started)
        if not ok:
            errors[kind] += 1
        await asyncio.sleep(rng.expovariate(rate))


async def run(base: str, tokens: list[str], n: int, seconds: float, rate: float):  # type: ignore[no-untyped-def]
    seen: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    outcomes: dict[str, int] = defaultdict(int)
    limits = httpx.Limits(
        max_connections=len(tokens), max_keepalive_connections=len(tokens)
    )
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        t0 = time.monotonic()
        await asyncio.gather(
            *(
                client_loop(
                    http,
                    tok,
                    n,
                    t0 + seconds,
                    rate,
                    seen,
                    errors,
                    random.Random(k),
                    outcomes,
                )
                for k, tok in enumerate(tokens)
            )
        )
        elapsed = time.monotonic() - t0
    return seen, errors, outcomes, elapsed


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_wait(pid: int) -> float:
    """Seconds the process's threads spent runnable but waiting for a core
    (Linux ``schedstat``): how much of a request's time the machine's other work
    took."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def children_cpu(pid: int) -> float:
    """CPU of ``pid``'s running child processes (the service's sealer)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--learners", type=int, default=10_000_000)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rate", type=float, default=1.0, help="look-ups/s per client")
    p.add_argument(
        "--db", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    p.add_argument("--record", action="store_true")
    a = p.parse_args()
    t = time.perf_counter()
    url = ensure_db(a.db, a.learners)
    gen_s = time.perf_counter() - t
    home = Path(tempfile.mkdtemp(prefix="lrs-bench-"))
    tokens = setup(home, url, a.clients)
    port = free_port()
    began = datetime.now(UTC).replace(tzinfo=None)
    proc = start(home, url, port)
    try:
        load = os.getloadavg()
        cpu0, own0 = cpu_seconds(proc.pid), time.process_time()
        kids0, wait0 = children_cpu(proc.pid), cpu_wait(proc.pid)
        seen, errors, outcomes, elapsed = asyncio.run(
            run(f"http://127.0.0.1:{port}", tokens, a.learners, a.seconds, a.rate)
        )
        cpu1, own1 = cpu_seconds(proc.pid), time.process_time()
        kids1, wait1 = children_cpu(proc.pid), cpu_wait(proc.pid)
        load_after = os.getloadavg()
        time.sleep(3)  # one more seal
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    eng = sa.create_engine(url)
    with eng.connect() as con:
        recorded, sealed = con.execute(
            sa.text(
                "SELECT count(*), count(ledger_index) FROM lrs_lookups WHERE at >= :t"
            ),
            {"t": began},
        ).one()
    v, h = seen["verify"], seen["healthz"]
    ms = lambda x: f"{x * 1000:.1f}"  # noqa: E731
    niced = f"nice -n {os.nice(0)} " if os.nice(0) else ""  # as it ran
    lines = [
        f"### lrs, {date.today().isoformat()}, {a.learners:,} learners",
        "",
        f"`flock /work/bench.lock {niced}timeout 1200 .venv/bin/python bench/lrs.py "
        f"--learners {a.learners} --clients {a.clients} --seconds {a.seconds:g} "
        f"--rate {a.rate:g}` (PostgreSQL records; one uvicorn worker; clients in a "
        f"second process on the same 2 cores; `uptime` load average before "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after {load_after[0]:.2f} "
        f"{load_after[1]:.2f} {load_after[2]:.2f}; register "
        f"{'generated' if gen_s > 5 else 'reused'} in {gen_s:.0f} s).",
        "",
        "| request | n | req/s | p50 ms | p99 ms | max ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, xs in (("verify (ULN look-up)", v), ("healthz (baseline)", h)):
        key = kind.split()[0]
        lines.append(
            f"| {kind} | {len(xs)} | {len(xs) / elapsed:.1f} | "
            f"{ms(statistics.median(xs))} | {ms(pct(xs, 99))} | {ms(max(xs))} | "
            f"{errors.get(key, 0)} |"
        )
    lines += [
        "",
        f"Ratio of p50 to the baseline's p50: "
        f"{statistics.median(v) / statistics.median(h):.1f}x. "
        f"Outcomes: {dict(outcomes)}. Look-ups recorded: {recorded}; sealed into the "
        f"ledger by the end: {sealed}. Goal p99 < 50 ms: "
        f"{'met' if pct(v, 99) < 0.05 and not errors else 'NOT met'}.",
        "",
        f"CPU in the service's process: {cpu1 - cpu0:.1f} s over {elapsed:.0f} s, "
        f"{(cpu1 - cpu0) * 1000 / max(1, len(v) + len(h)):.2f} ms a request; "
        f"in its sealer's process (sealing into the ledger) "
        f"{(kids1 - kids0) * 1000 / max(1, len(v) + len(h)):.2f} ms; "
        f"in the clients' process "
        f"{(own1 - own0) * 1000 / max(1, len(v) + len(h)):.2f} ms a request. "
        f"The service's threads waited {wait1 - wait0:.1f} s in all for a core "
        f"({(wait1 - wait0) * 1000 / max(1, len(v) + len(h)):.1f} ms a request): "
        f"the machine's other work.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if a.record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
