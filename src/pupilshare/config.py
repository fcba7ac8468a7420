"""The data home: where a deployment keeps its store, records, keys and releases.

One place says where each thing lives, so every command and test agree. Chosen by
``--home``, else ``PUPILSHARE_HOME``, else ``./pupilshare-data``.
Settings a deployment may change (thresholds, disclosure defaults) are read from
``HOME/pupilshare.toml``; each module owns its own section and its defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pupilshare import private

DEFAULT_HOME = "pupilshare-data"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, home: str | Path | None = None) -> Home:
        chosen = home or os.environ.get("PUPILSHARE_HOME") or DEFAULT_HOME
        return cls(Path(chosen).resolve())

    def check(self) -> Home:
        """Refuse a home that is not a folder (a file named by ``--home``)."""
        if self.root.exists() and not self.root.is_dir():
            from pupilshare.errors import InvalidInput

            raise InvalidInput(
                f"the data home {self.root} is a file, not a folder: give --home "
                "(or PUPILSHARE_HOME) a folder, new or made by pupilshare"
            )
        return self

    def ensure(self) -> Home:
        """Create the home, private to its owner (``private``): 0700 folders and
        0600 files from here on; an older, looser home is tightened once."""
        self.check()
        private.restrict()
        fresh = not self.root.exists()
        for d in (self.root, self.reports_dir, self.releases_dir, self.keys_dir):
            d.mkdir(mode=private.DIR_MODE, parents=True, exist_ok=True)
        if not fresh and not private.is_private(self.root):
            private.tighten(self.root)
        return self

    @property
    def store_path(self) -> Path:
        """The DuckDB database of pupil data."""
        return self.root / "pupils.duckdb"

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the governance records: SQLite here unless overridden."""
        url = os.environ.get("PUPILSHARE_DB_URL")
        return url or f"sqlite:///{self.root / 'governance.sqlite'}"

    @property
    def keys_dir(self) -> Path:
        """Pseudonym secrets, one per agreement, kept outside the data store."""
        return self.root / "keys"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def config_path(self) -> Path:
        return self.root / "pupilshare.toml"

    def settings(self, section: str) -> dict[str, Any]:
        """One section of ``pupilshare.toml`` (empty when absent)."""
        if not self.config_path.exists():
            return {}
        with self.config_path.open("rb") as f:
            return dict(tomllib.load(f).get(section, {}))
