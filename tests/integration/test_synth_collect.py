"""A small nation through the real collector: exactly the faulty files are refused."""

from __future__ import annotations

import json
from pathlib import Path

from pupilshare.collect import Collector, nation_files
from pupilshare.config import Home
from pupilshare.store import Store
from pupilshare.synth import synthesise


def test_collection_loads_every_normal_file_and_refuses_the_faulty(
    tmp_path: Path, home: Home
) -> None:
    nation = tmp_path / "nation"
    synthesise(nation, 400, 21, years=1)
    manifest = json.loads((nation / "manifest.json").read_text())
    with Store.open(home) as store:
        collector = Collector(store, home, label="test")
        for ds, path in nation_files(nation):
            collector.collect(ds, path, str(path.relative_to(nation)))
        result = collector.finish()
    rejected = {o.file for o in result.of("rejected")}
    assert rejected == set(manifest["faulty"])
    loaded = {o.file: o.rows for o in result.of("loaded")}
    for f in manifest["files"]:
        if f["file"] not in rejected:
            assert loaded[f["file"]] == f["rows"], f["file"]
