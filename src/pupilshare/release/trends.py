"""Key stage trends: attainment by year, nationally, by LA and by pupil group."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from pupilshare.release.plan import ReleasePlan


def charts(plan: ReleasePlan, tables: dict[str, pa.Table], staging: Path) -> list[str]:
    return []
