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


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "env"}:
        print("usage: python3 dev.py demo [ARGS...] | test [PYTEST ARGS...] | env")
        return 2
    ensure_env()
    command, rest = argv[0], argv[1:]
    if command == "env":
        return 0
    if command == "demo":
        return _run(BIN / "pupilshare", "demo", *rest)
    lint = _run(BIN / "ruff", "check", "src", "tests", "bench", "dev.py")
    if lint != 0:
        return lint
    code = _run(BIN / "python", "-m", "pytest", *rest)
    if code == 5:
        print("pytest collected no tests: that counts as a failure")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
