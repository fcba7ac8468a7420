"""Releases at the least identifying level: every agreement's data goes out through
``build_release`` (minimise, population, de-identify, disclosure control, output
check, package and deliver)."""

from __future__ import annotations

__all__ = ["build_release", "demo_step"]


def build_release(*args, **kwargs):  # type: ignore[no-untyped-def]
    from pupilshare.release.build import build_release as _build

    return _build(*args, **kwargs)


def demo_step(run):  # type: ignore[no-untyped-def]
    from pupilshare.release.demo import demo_step as _step

    return _step(run)
