"""CLI command modules, one per area; each has ``register(app)``.

Adding an area's commands is one line here, so areas never edit each other's files.
"""

from __future__ import annotations

from pupilshare.commands import (
    collect,
    demo,
    governance,
    ledger,
    lrs,
    match,
    release,
    rights,
    status,
    synth,
    users,
)

MODULES = [
    status,
    synth,
    collect,
    match,
    governance,
    users,
    release,
    ledger,
    lrs,
    rights,
    demo,
]
