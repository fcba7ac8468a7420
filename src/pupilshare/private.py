"""Files private to their owner: the data home holds pupil records, pseudonym secrets
and identified releases, so nothing in it may be readable by other users.

Every pupilshare process creates files with the umask 077 (folders 0700, files
0600), whatever the umask it was started with: DuckDB, SQLite and our own writers
all honour it, so there is no file to forget. A home made by an older version, or
by hand, is tightened once when it is opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict() -> None:
    """From now on, this process creates files for its owner only."""
    os.umask(UMASK)


def is_private(path: Path) -> bool:
    """True when no one but the owner has any access to ``path``."""
    return not stat.S_IMODE(path.lstat().st_mode) & 0o077


def tighten(root: Path) -> int:
    """Make ``root`` and everything under it owner-only (symlinks are not
    followed); returns how many modes changed."""
    changed = 0
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        want = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
        if stat.S_IMODE(st.st_mode) != want:
            path.chmod(want)
            changed += 1
    return changed
