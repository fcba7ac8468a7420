"""Outputs a command writes where the user points it (``--out``): never a surprise.

No command overwrites an existing output without ``--force``, and a path of the
wrong kind (a file where a folder is wanted, or the reverse) is refused with what to
do, before any work is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pupilshare.errors import Conflict, InvalidInput


def file_target(path: Path, force: bool, option: str = "--out") -> Path:
    """``path`` as a file to write: refused when it is a folder, or already exists
    and ``force`` is not given."""
    path = Path(path)
    if path.is_dir():
        raise InvalidInput(f"{option} {path} is a folder: name a file to write")
    if path.exists() and not force:
        raise Conflict(
            f"{option} {path} already exists: choose another name, or add --force "
            "to replace it"
        )
    if path.parent.exists() and not path.parent.is_dir():
        raise InvalidInput(f"{option} {path}: {path.parent} is a file, not a folder")
    return path


def folder_target(
    path: Path, names: Iterable[str], force: bool, option: str = "--out"
) -> Path:
    """``path`` as a folder to write ``names`` into: refused when it is a file, or
    when it already holds any of them and ``force`` is not given."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InvalidInput(
            f"{option} {path} is a file: {option} takes a folder (new or existing)"
        )
    taken = sorted(n for n in names if (path / n).exists())
    if taken and not force:
        raise Conflict(
            f"{option} {path} already holds {', '.join(taken)}: choose another "
            "folder, or add --force to replace them"
        )
    return path
