"""Generated docs are current: the committed data dictionary matches the catalogue."""

from __future__ import annotations

from pathlib import Path

from pupilshare import catalogue
from pupilshare.docs import DICTIONARY_PATH, data_dictionary

ROOT = Path(__file__).resolve().parents[2]


def test_data_dictionary_is_current() -> None:
    committed = (ROOT / DICTIONARY_PATH).read_text()
    assert committed == data_dictionary(), "run: python -m pupilshare.docs"


def test_every_item_is_documented() -> None:
    text = data_dictionary()
    for ds in catalogue.DATASETS.values():
        section = text.split(f"## `{ds.name}`")[1].split("\n## ")[0]
        for it in ds.items:
            assert f"| `{it.name}` |" in section
