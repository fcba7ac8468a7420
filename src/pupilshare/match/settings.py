"""The ``[match]`` settings of ``pupilshare.toml`` and why their defaults are what
they are."""

from __future__ import annotations

from datetime import date
from typing import Any

from pupilshare.config import Home
from pupilshare.errors import InvalidInput

# Defaults measured on synthetic nations (``bench/match.py --sweep``, recorded in
# bench/RESULTS.md, "Thresholds"), each matched from an empty index. On 1,000,000
# pupils an upper threshold of 0.9 gave F1 0.99911 (precision 0.999895, recall
# 0.998329) with 0.84% of records queued; 0.95 gave F1 0.99859 (precision 0.999940)
# with 1.03% queued, over the 1% a review team is sized for; 0.99 gave 0.99657 with
# 1.40%. On 100,000 pupils precision was 1.00000 from 0.8 to 0.999 and F1 highest at
# 0.8-0.9. Precision is what falls as a nation grows (more pupils share a name and
# birth date) and a false join shows one child's records under another's key, so the
# upper threshold is not taken below 0.9, where the 1 M nation still measured it. The
# lower threshold moves only review volume (on 100,000: 0.51% at 0.2, 0.19% at 0.5,
# 0.09% at 0.8): at 0.5 a clerk sees only candidates more likely the same pupil than
# not.
DEFAULTS: dict[str, Any] = {
    "upper_threshold": 0.9,
    "lower_threshold": 0.5,
    "reference_date": None,
    "model": "match-model.json",
}


def match_settings(home: Home) -> dict[str, Any]:
    """The ``[match]`` section of ``pupilshare.toml`` over the defaults, checked."""
    s = {**DEFAULTS, **home.settings("match")}
    up, low = float(s["upper_threshold"]), float(s["lower_threshold"])
    if not 0 < low <= up < 1:
        raise InvalidInput("match thresholds need 0 < lower <= upper < 1")
    s["upper_threshold"], s["lower_threshold"] = up, low
    ref = s["reference_date"]
    s["reference_date"] = date.fromisoformat(str(ref)) if ref else date.today()
    return s
