#!/usr/bin/env python3
"""Set-up and the two commands a new machine needs: ``demo`` and ``test``.

Only Python 3.11+ is assumed. The first run makes ``.venv`` and installs pupilshare
with its test extras; later runs reinstall only when ``pyproject.toml`` changes, so the
two README commands stay the whole story for a fresh checkout.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".pupilshare-installed"
# GOV.UK Frontend's compiled CSS, JS, fonts and images for the web service, fetched
# from the npm registry (never committed); the version govuk-frontend-jinja 4.1 targets.
GOVUK_FRONTEND = "6.3.0"
ASSETS = ROOT / "src" / "pupilshare" / "web" / "assets"


def _run(*cmd: str | Path) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT)


def ensure_env() -> None:
    """Create the virtual environment and install the package when it is stale."""
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        if _run(sys.executable, "-m", "venv", VENV) != 0:
            sys.exit("could not create .venv")
    print("installing pupilshare and its dependencies into .venv ...", flush=True)
    pip = [BIN / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if _run(*pip, "--upgrade", "pip") != 0 or _run(*pip, "-e", ".[test]") != 0:
        sys.exit("installation failed")
    STAMP.write_text(want)


def ensure_assets() -> None:
    """Fetch govuk-frontend with ``npm pack`` and keep its ``dist/govuk`` build.

    Without npm (or the registry) the service still runs, unstyled: it warns here.
    """
    stamp = ASSETS / ".version"
    if stamp.exists() and stamp.read_text() == GOVUK_FRONTEND:
        return
    import shutil
    import tarfile
    import tempfile

    npm = shutil.which("npm")
    if npm is None:
        print("warning: npm not found; the web service's pages will be unstyled")
        return
    print(f"fetching govuk-frontend {GOVUK_FRONTEND} from the npm registry ...")
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run(
            [npm, "pack", f"govuk-frontend@{GOVUK_FRONTEND}", "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
        )
        tgz = Path(tmp) / f"govuk-frontend-{GOVUK_FRONTEND}.tgz"
        if got.returncode != 0 or not tgz.exists():
            print(f"warning: could not fetch govuk-frontend: {got.stderr.strip()}")
            return
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
        dist = Path(tmp) / "package" / "dist" / "govuk"
        shutil.rmtree(ASSETS, ignore_errors=True)
        shutil.copytree(dist / "assets", ASSETS)
        for name in ("govuk-frontend.min.css", "govuk-frontend.min.js"):
            shutil.copy2(dist / name, ASSETS / name)
    stamp.write_text(GOVUK_FRONTEND)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "env"}:
        print("usage: python3 dev.py demo [ARGS...] | test [PYTEST ARGS...] | env")
        return 2
    ensure_env()
    ensure_assets()
    command, rest = argv[0], argv[1:]
    if command == "env":
        return 0
    if command == "demo":
        return _run(BIN / "pupilshare", "demo", *rest)
    paths = ("src", "tests", "bench", "dev.py")
    lint = _run(BIN / "ruff", "check", *paths) or _run(
        BIN / "ruff", "format", "--check", *paths
    )
    if lint != 0:
        return lint
    code = _run(BIN / "python", "-m", "pytest", *rest)
    if code == 5:
        print("pytest collected no tests: that counts as a failure")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
