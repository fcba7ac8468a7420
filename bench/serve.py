"""Load on the web service: 50 people at once over the public register, statistics
and privacy notice and a signed-in recipient's pages, for 60 s on loopback.

    PYTHONPATH=src python bench/serve.py [--home DIR] [--clients 50] [--seconds 60]
        [--think 1.0] [--baseline-src DIR] [--record]

The service runs as ``pupilshare serve`` in its own process (one uvicorn worker, as
deployed); the clients are an httpx connection pool in this process, each a person
who waits ``--think`` seconds on average (exponential) between pages. Without
``--home`` a 20,000-pupil demo home is made under ``bench/out`` once. Prints
requests/s, p50 and p99 latency and errors per page and overall, and the ratio of
each page's p50 to the service's bare health check measured in the same run (the
baseline: what the framework alone costs). Goal (issue 13): no errors, p99 < 200 ms.
``--baseline-src DIR`` first runs the same load against a service started from
another source tree (an earlier commit's ``src``, e.g. made with ``git archive``),
then against this one, and prints the ratio: the two share the machine's load.
Run it under ``flock /work/bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ("/register", "/statistics", "/privacy-notice", "/api/statistics")
RECIPIENT = "dh.analyst"
AGREEMENT = "dh-ncmp"
BASELINE = "/healthz"


def _exe() -> str:
    return shutil.which("pupilshare") or str(Path(sys.executable).parent / "pupilshare")


def ensure_home(home: Path | None, pupils: int) -> Path:
    if home is not None:
        return home
    home = ROOT / "bench" / "out" / f"serve-home-{pupils}"
    if not (home / "pupils.duckdb").exists():
        print(f"making a {pupils:,}-pupil demo home in {home} ...", flush=True)
        cmd = [
            _exe(),
            "--home",
            str(home),
            "demo",
            "--pupils",
            str(pupils),
            "--no-serve",
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return home


def recipient_password(home: Path) -> str:
    """A fresh password for the recipient, set as user management would."""
    from pupilshare import identity
    from pupilshare.config import Home
    from pupilshare.governance import db

    with db.factory(Home.resolve(home).db_url)() as s:
        issued = identity.issue(s, identity.LOCAL_OPERATOR, RECIPIENT)
        s.commit()
    return str(issued.password)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int, src: Path | None = None) -> subprocess.Popen:
    cmd = [_exe(), "--home", str(home), "serve", "--port", str(port)]
    env = None
    if src is not None:  # another tree's code, ahead of the installed package
        cmd = [sys.executable, "-m", "pupilshare", *cmd[1:]]
        env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{BASELINE}").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the service did not start")


def _session(r: httpx.Response) -> str:
    """The session cookie's value (sent back by hand: the cookie is ``Secure`` and
    httpx, unlike browsers, does not return those to plain-HTTP loopback)."""
    found = re.search(r"pupilshare_session=([^;]+)", r.headers.get("set-cookie", ""))
    if not found:
        raise SystemExit("the service set no session cookie")
    return found.group(1)


def sign_in(base: str, password: str) -> dict[str, str]:
    """Headers that carry a recipient's signed-in session."""
    with httpx.Client(base_url=base) as c:
        form = c.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        r = c.post(
            "/sign-in",
            data={
                "csrf_token": token,
                "username": RECIPIENT,
                "password": password,
                "next": "/agreements",
            },
            headers={"Cookie": f"pupilshare_session={_session(form)}"},
        )
        if r.status_code != 303:
            raise SystemExit(f"could not sign in: {r.status_code}")
        return {"Cookie": f"pupilshare_session={_session(r)}"}


async def person(
    client: httpx.AsyncClient,
    cookies: dict[str, str],
    pages: list[str],
    until: float,
    think: float,
    seen: dict[str, list[float]],
    errors: dict[str, int],
    rng: random.Random,
) -> None:
    await asyncio.sleep(rng.uniform(0, think))  # people arrive over the first moments
    while time.monotonic() < until:
        path = rng.choice(pages)
        signed = not path.startswith(PUBLIC) and path != BASELINE
        started = time.perf_counter()
        try:
            r = await client.get(path, headers=cookies if signed else None)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        seen[path].append(time.perf_counter() - started)
        if not ok:
            errors[path] += 1
        await asyncio.sleep(rng.expovariate(1 / think) if think else 0)


async def run(
    base: str,
    cookies: dict[str, str],
    pages: list[str],
    clients: int,
    seconds: float,
    think: float,
) -> tuple[dict, dict, float]:
    seen: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(
                person(
                    client, cookies, pages, until, think, seen, errors, random.Random(i)
                )
                for i in range(clients)
            )
        )
        elapsed = time.monotonic() - started
    return seen, errors, elapsed


def pct(xs: list[float], p: float) -> float:
    if len(xs) < 2:
        return xs[0] if xs else float("nan")
    return statistics.quantiles(xs, n=100, method="inclusive")[int(p) - 1]


def report(
    seen: dict,
    errors: dict,
    elapsed: float,
    args: argparse.Namespace,
    load: str,
    label: str = "",
) -> str:
    base = statistics.median(seen[BASELINE]) if seen[BASELINE] else float("nan")
    every = [x for xs in seen.values() for x in xs]
    where = f"`{args.home}`" if args.home else f"{args.pupils:,}-pupil demo"
    lines = [
        f"## Web service under load{label} ({date.today().isoformat()})",
        "",
        "`flock /work/bench.lock .venv/bin/python bench/serve.py --home HOME "
        f"--clients {args.clients} --seconds {args.seconds:g} --think {args.think:g}"
        + (" --baseline-src OLD_SRC" if args.baseline_src else "")
        + "` "
        f"(home: {where}; one uvicorn worker; clients in a second "
        f"process on the same 2 cores; load average before the run {load}).",
        "",
        "| page | requests | req/s | p50 ms | p99 ms | errors | p50 / health p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted(seen, key=lambda p: (p != BASELINE, p)):
        xs = seen[path]
        lines.append(
            f"| `{path}` | {len(xs)} | {len(xs) / elapsed:.1f} | "
            f"{1000 * pct(xs, 50):.1f} | {1000 * pct(xs, 99):.1f} | "
            f"{errors.get(path, 0)} | "
            f"{pct(xs, 50) / base:.1f}x |"
        )
    total_errors = sum(errors.values())
    lines.append(
        f"| **all** | {len(every)} | {len(every) / elapsed:.1f} | "
        f"{1000 * pct(every, 50):.1f} | {1000 * pct(every, 99):.1f} | "
        f"{total_errors} | |"
    )
    goal = "met" if total_errors == 0 and pct(every, 99) < 0.2 else "NOT met"
    lines += ["", f"Goal (no errors, p99 < 200 ms): {goal}.", ""]
    return "\n".join(lines)


def measure(
    home: Path, password: str, args: argparse.Namespace, src: Path | None
) -> tuple[dict, dict, float, str]:
    """One run of the load against a fresh service; the load average before it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    server = start_server(home, port, src)
    try:
        cookies = sign_in(base, password)
        with httpx.Client(base_url=base, headers=cookies) as c:
            rid = c.get("/api/releases").json()[0]["release_id"]
        recipient = [
            "/agreements",
            f"/agreements/{AGREEMENT}",
            f"/releases/{rid}",
            "/api/releases",
        ]
        pages = [*PUBLIC, *recipient, BASELINE]
        seen, errors, elapsed = asyncio.run(
            run(base, cookies, pages, args.clients, args.seconds, args.think)
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return seen, errors, elapsed, load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path)
    ap.add_argument("--pupils", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--think", type=float, default=1.0)
    ap.add_argument("--baseline-src", type=Path, help="an earlier tree's src/")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    home = ensure_home(args.home, args.pupils)
    password = recipient_password(home)
    texts, p99s = [], []
    runs = [(args.baseline_src, " (baseline)"), (None, "")]
    for src, label in runs if args.baseline_src else runs[1:]:
        seen, errors, elapsed, load = measure(home, password, args, src)
        texts.append(report(seen, errors, elapsed, args, load, label))
        p99s.append(pct([x for xs in seen.values() for x in xs], 99))
    if len(p99s) == 2:
        texts.append(
            f"p99 of this tree / p99 of the baseline in the same run: "
            f"{p99s[1] / p99s[0]:.2f} ({1000 * p99s[1]:.0f} ms against "
            f"{1000 * p99s[0]:.0f} ms).\n"
        )
    text = "\n".join(texts)
    print(text)
    if args.record:
        with (ROOT / "bench" / "RESULTS.md").open("a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
