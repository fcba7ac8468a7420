"""Generated docs are current: the committed data dictionary matches the catalogue."""

from __future__ import annotations

from pathlib import Path

from pupilshare import catalogue
from pupilshare.docs import (
    CLI_PATH,
    DICTIONARY_PATH,
    GENERATED,
    _commands,
    cli_reference,
    data_dictionary,
)

ROOT = Path(__file__).resolve().parents[2]


def test_generated_docs_are_current() -> None:
    for path, make in GENERATED.items():
        committed = (ROOT / path).read_text()
        assert committed == make(), f"{path} is stale: run python -m pupilshare.docs"


def test_every_command_is_documented_with_help() -> None:
    text = cli_reference()
    for full, cmd in _commands():
        assert f"## `pupilshare {full}`" in text
        assert (cmd.help or "").strip(), f"pupilshare {full} has no help text"


def test_paths_are_distinct() -> None:
    assert DICTIONARY_PATH != CLI_PATH


def test_every_item_is_documented() -> None:
    text = data_dictionary()
    for ds in catalogue.DATASETS.values():
        section = text.split(f"## `{ds.name}`")[1].split("\n## ")[0]
        for it in ds.items:
            assert f"| `{it.name}` |" in section
