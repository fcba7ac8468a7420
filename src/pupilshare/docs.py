"""Generated documentation: the data dictionary (from the catalogue and code sets)
and the CLI reference (from the commands' own help).

``python -m pupilshare.docs`` rewrites both files under ``docs/``; a test fails when
the committed file is stale, so the published dictionary never drifts from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from pupilshare import catalogue
from pupilshare.cli import register_commands
from pupilshare.codesets import CODESETS

TIERS = {
    1: "individual, identifiable, highly sensitive",
    2: "individual, identifiable, sensitive",
    3: "aggregated, may identify through small numbers",
    4: "individual, identifiable, not sensitive",
}


def _flags(it: catalogue.Item) -> str:
    flags = []
    if it.required:
        flags.append("required")
    if it.identifying:
        flags.append("identifying")
    if it.quasi:
        flags.append("quasi-identifier")
    if it.derived:
        flags.append("derived")
    return ", ".join(flags)


def data_dictionary() -> str:
    lines = [
        "# Data dictionary",
        "",
        "Generated from `pupilshare.catalogue` by `python -m pupilshare.docs`; "
        "do not edit by hand.",
        "",
        "Sensitivity tiers: "
        + "; ".join(f"**{t}** {text}" for t, text in TIERS.items())
        + ".",
        "",
    ]
    for ds in catalogue.DATASETS.values():
        lines += [f"## `{ds.name}`: {ds.title}", "", ds.description, ""]
        if ds.supplier:
            lines += [f"Supplied by: {ds.supplier}.", ""]
        if ds.unique_key:
            lines += [f"Once per file: {', '.join(ds.unique_key)}.", ""]
        lines += [
            "| item | type | tier | code set / check | flags | description |",
            "|---|---|---|---|---|---|",
        ]
        for it in ds.items:
            rule = it.codeset or it.check or ""
            if it.minimum is not None or it.maximum is not None:
                rule = f"{rule} {it.minimum}..{it.maximum}".strip()
            lines.append(
                f"| `{it.name}` | {it.type} | {it.tier} | {rule} | {_flags(it)} "
                f"| {it.description} |"
            )
        lines.append("")
    lines += ["## Code sets", ""]
    for cs in CODESETS.values():
        lines += [f"### `{cs.name}`: {cs.description}", ""]
        lines += ["| code | meaning | group |", "|---|---|---|"]
        for code, meaning in cs.codes.items():
            lines.append(f"| `{code}` | {meaning} | {cs.groups.get(code, '')} |")
        lines.append("")
    return "\n".join(lines)


def _commands() -> list[tuple[str, Any]]:
    """Every command as (full name, click command), walking groups depth first."""
    app = register_commands()
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, group: Any) -> None:
        for name, cmd in group.commands.items():
            full = f"{prefix} {name}".strip()
            out.append((full, cmd))
            if hasattr(cmd, "commands"):
                walk(full, cmd)

    walk("", typer.main.get_command(app))
    return out


def cli_reference() -> str:
    """The CLI reference, from the commands' own help text and parameters."""
    lines = [
        "# CLI reference",
        "",
        "Generated from the commands' help by `python -m pupilshare.docs`; "
        "do not edit by hand. Every command takes `--home DIR` and `--user NAME`.",
        "",
    ]
    for full, cmd in _commands():
        lines += [f"## `pupilshare {full}`", "", (cmd.help or "").strip(), ""]
        params = [p for p in cmd.params if p.name != "help"]
        if params:
            lines += ["| argument or option | help |", "|---|---|"]
            for p in params:
                names = " / ".join([*p.opts, *getattr(p, "secondary_opts", [])])
                if p.param_type_name == "argument":
                    names = p.name.upper()
                help_text = (getattr(p, "help", None) or "").replace("|", "\\|")
                lines.append(f"| `{names}` | {' '.join(help_text.split())} |")
            lines.append("")
    return "\n".join(lines)


DICTIONARY_PATH = Path("docs/data-dictionary.md")
CLI_PATH = Path("docs/cli-reference.md")
GENERATED = {DICTIONARY_PATH: data_dictionary, CLI_PATH: cli_reference}


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for path, make in GENERATED.items():
        (root / path).write_text(make())
        print(f"wrote {root / path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
