"""Identity's parts without a database: TOTP steps and replay, password hashes and
their parameters, and the rule that faces never take a typed name as an identity."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher, Type
from hypothesis import given
from hypothesis import strategies as st

import pupilshare
from pupilshare.identity import passwords, totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T = datetime(2026, 12, 4, 12, 0, 0)


@given(st.integers(-4, 4), st.integers(-3, 3))
def test_a_code_is_accepted_near_now_and_only_after_the_last_step(
    offset: int, last_offset: int
) -> None:
    now = totp.step_at(T)
    code = totp.code_for(SECRET, now + offset)
    got = totp.accept(SECRET, code, now + last_offset, T)
    ok = abs(offset) <= totp.WINDOW and now + offset > now + last_offset
    assert got == (now + offset if ok else None)


def test_codes_are_six_digits_and_rfc6238() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits), so 287082 in 6
    rfc = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    at = datetime(1970, 1, 1) + timedelta(seconds=59)
    assert totp.code_for(rfc, totp.step_at(at)) == "287082"
    assert totp.accept(rfc, "287 082", 0, at) == 1
    assert totp.accept(rfc, "28708", 0, at) is None
    assert totp.accept(rfc, "abcdef", 0, at) is None
    assert totp.uri(rfc, "cass.chief").startswith(
        "otpauth://totp/pupilshare:cass.chief"
    )


def test_production_hashes_are_argon2id_at_rfc9106_strength() -> None:
    real = PasswordHasher()  # what passwords.HASHER is outside the tests
    assert real.type is Type.ID and real.memory_cost >= 65536 and real.time_cost >= 3
    assert "HASHER = PasswordHasher()" in Path(passwords.__file__).read_text()
    strong = real.hash("correct horse battery")
    assert passwords.check(strong, "correct horse battery")  # any parameters verify
    assert not passwords.check(strong, "correct horse battery!")
    assert not passwords.check("not a hash", "x")
    assert not passwords.check(strong, "x" * (passwords.MAX_LENGTH + 1))


def test_new_passwords_are_long_enough_and_generated_ones_pass() -> None:
    assert passwords.problems("short") and passwords.problems(" padded password ")
    assert not passwords.problems(passwords.generate())
    assert len({passwords.generate() for _ in range(50)}) == 50


def test_faces_never_take_a_typed_name_as_an_identity() -> None:
    """``governance.access.actor`` makes an unproved principal from a name; the
    command line and the web service must go through ``pupilshare.identity``."""
    root = Path(pupilshare.__file__).parent
    faces = [
        *root.joinpath("commands").glob("*.py"),
        root / "cli.py",
        *root.joinpath("web").rglob("*.py"),
    ]
    offenders = [
        str(p.relative_to(root))
        for p in faces
        if re.search(
            r"\bactor\(|import actor\b|access import .*\bactor\b", p.read_text()
        )
    ]
    assert offenders == []


def test_the_demo_prints_each_users_credentials_whole() -> None:
    import io

    from rich.console import Console

    from pupilshare.commands.demo import show_users
    from pupilshare.identity import Issued

    out = io.StringIO()
    secret = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    show_users(
        Console(file=out, width=40),
        {
            "cass.chief": Issued("cass.chief", "p" * 20, secret),
            "riverside.admissions": Issued("riverside.admissions", "q" * 20, None),
        },
    )
    text = out.getvalue()
    assert secret in text and "p" * 20 in text and "q" * 20 in text
    assert "riverside.admissions" in text
