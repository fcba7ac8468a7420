"""Identity on SQLite and PostgreSQL: sign-in with password and code, lock-out, rate
limits, API tokens, who may touch whose credentials, and the sign-in records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from pupilshare import identity
from pupilshare.errors import Denied, InvalidInput, SignInFailed
from pupilshare.governance import db, orgs, seeds, workflow
from pupilshare.governance.access import LOCAL_OPERATOR, actor
from pupilshare.governance.models import ApiToken, Base, SignIn
from pupilshare.identity import totp
from pupilshare.identity.signin import WRONG


@pytest.fixture
def seeded(
    db_url: str, seed: Callable[[], tuple[Session, Any]]
) -> Iterator[tuple[Session, Any]]:
    s, out = seed()
    s.commit()
    yield s, out.credentials
    s.close()
    db.dispose(db_url)


def code(s: Session, issued: Any, at: datetime | None = None) -> str:
    """The code the user's authenticator app shows next."""
    out = seeds.next_code(s, issued, at)
    assert out is not None
    return out


def outcomes(session: Session, username: str) -> list[str]:
    return list(
        session.scalars(
            sa.select(SignIn.outcome)
            .where(SignIn.username == username, SignIn.method != "manage")
            .order_by(SignIn.sign_in_id)
        )
    )


def test_a_password_signs_a_recipient_in(seeded: tuple) -> None:
    s, creds = seeded
    who = identity.authenticate(s, "dh.analyst", creds["dh.analyst"].password)
    assert (who.username, who.org_id, who.roles, who.via) == (
        "dh.analyst",
        "dh",
        frozenset({"recipient"}),
        "password",
    )
    assert who.signed_in and outcomes(s, "dh.analyst") == ["ok"]


def test_privileged_roles_need_the_code_once(seeded: tuple) -> None:
    s, creds = seeded
    cass, T0 = creds["cass.chief"], workflow.now()
    with pytest.raises(identity.SecondFactorRequired):
        identity.authenticate(s, "cass.chief", cass.password, at=T0)
    with pytest.raises(SignInFailed, match=WRONG):
        identity.authenticate(s, "cass.chief", cass.password, "000000", at=T0)
    c = code(s, cass, T0)
    who = identity.authenticate(s, "cass.chief", cass.password, c, at=T0)
    assert who.via == "password+totp" and who.may("decide")
    with pytest.raises(SignInFailed):  # a code is accepted once
        identity.authenticate(s, "cass.chief", cass.password, c, at=T0)
    with pytest.raises(SignInFailed):  # and too old a code not at all
        old = totp.code_for(cass.totp_secret, totp.step_at(T0) - 3)
        identity.authenticate(s, "cass.chief", cass.password, old, at=T0)
    assert outcomes(s, "cass.chief")[-5:] == [
        "code_needed",
        "bad_code",
        "ok",
        "bad_code",
        "bad_code",
    ]


def test_wrong_passwords_lock_the_account(seeded: tuple) -> None:
    s, creds = seeded
    right, T0 = creds["ier.researcher"].password, workflow.now()
    for _ in range(4):
        with pytest.raises(SignInFailed, match=WRONG):
            identity.authenticate(s, "ier.researcher", right + "x", at=T0)
    with pytest.raises(SignInFailed):
        identity.authenticate(s, "ier.researcher", "guess", at=T0)
    with pytest.raises(SignInFailed, match="locked"):  # the right one is refused too
        identity.authenticate(s, "ier.researcher", right, at=T0)
    assert outcomes(s, "ier.researcher") == ["bad_password"] * 4 + [
        "locked_out",
        "locked",
    ]
    later = T0 + identity.LIMITS.lock_for + timedelta(seconds=1)
    assert identity.authenticate(s, "ier.researcher", right, at=later).signed_in


def test_unknown_and_inactive_users_read_as_a_wrong_password(seeded: tuple) -> None:
    s, creds = seeded
    with pytest.raises(SignInFailed, match=WRONG):
        identity.authenticate(s, "no.such.user", "whatever it is")
    orgs.set_roles(
        s, actor(s, None), "sfa.analyst", ["recipient"], active=False, reason="left"
    )
    s.commit()
    with pytest.raises(SignInFailed, match=WRONG):
        identity.authenticate(s, "sfa.analyst", creds["sfa.analyst"].password)
    assert outcomes(s, "no.such.user") == ["unknown_user"]
    assert outcomes(s, "sfa.analyst") == ["inactive"]


def test_sign_in_is_rate_limited(seeded: tuple) -> None:
    s, creds = seeded
    right, T0 = creds["ons.linker"].password, workflow.now()
    limits = identity.Limits(per_user=3, max_failures=100)
    for _ in range(3):
        identity.authenticate(s, "ons.linker", right, at=T0, limits=limits)
    with pytest.raises(SignInFailed, match="a minute"):
        identity.authenticate(s, "ons.linker", right, at=T0, limits=limits)
    later = T0 + timedelta(minutes=2)
    assert identity.authenticate(s, "ons.linker", right, at=later, limits=limits)
    # one source failing across many names is stopped too
    per_source = identity.Limits(per_source=4)
    for i in range(4):
        with pytest.raises(SignInFailed, match=WRONG):
            identity.authenticate(
                s, f"user{i}", "x" * 12, source="web:10.0.0.9", at=T0, limits=per_source
            )
    with pytest.raises(SignInFailed, match="web:10.0.0.9"):
        identity.authenticate(
            s,
            "cqc.analyst",
            creds["cqc.analyst"].password,
            source="web:10.0.0.9",
            at=T0,
            limits=per_source,
        )
    assert outcomes(s, "cqc.analyst") == ["rate_limited"]


def test_a_refusal_is_recorded_even_when_the_caller_rolls_back(seeded: tuple) -> None:
    s, _ = seeded
    with pytest.raises(SignInFailed):
        identity.authenticate(s, "dh.analyst", "not the password")
    s.rollback()
    assert outcomes(s, "dh.analyst") == ["bad_password"]


def test_tokens(seeded: tuple) -> None:
    s, creds = seeded
    who = identity.authenticate(s, "lrs.officer", creds["lrs.officer"].password)
    T0 = workflow.now()
    token, row = identity.create_token(s, who, "nightly extract", days=7, at=T0)
    s.commit()
    assert token.startswith(f"pst_{row.token_id}_") and token not in str(
        s.get(ApiToken, row.token_id).__dict__
    )  # only a digest is kept
    by_token = identity.verify_token(s, token, at=T0)
    assert (by_token.username, by_token.via) == ("lrs.officer", "token")
    with pytest.raises(Denied):  # a token cannot make tokens
        identity.create_token(s, by_token, "another")
    with pytest.raises(SignInFailed, match="expired"):
        identity.verify_token(s, token, at=T0 + timedelta(days=7))
    with pytest.raises(SignInFailed, match="not recognised"):
        identity.verify_token(s, token[:-2] + "xx", at=T0)
    with pytest.raises(InvalidInput):
        identity.create_token(s, who, "too long", days=400)
    dora = identity.authenticate(
        s, "dora.ops", creds["dora.ops"].password, code(s, creds["dora.ops"])
    )
    with pytest.raises(InvalidInput, match="1 to 30 days"):  # it stands in for a code
        identity.create_token(s, dora, "a year", days=365)
    identity.lock(s, LOCAL_OPERATOR, "lrs.officer", "laptop stolen")
    s.commit()
    with pytest.raises(SignInFailed, match="locked"):
        identity.verify_token(s, token, at=T0)
    with pytest.raises(Denied):  # revoking someone else's needs user management
        identity.revoke_token(s, actor(s, "dh.analyst"), row.token_id)
    identity.revoke_token(s, who, row.token_id, "no longer needed")
    s.commit()
    with pytest.raises(SignInFailed, match="revoked"):
        identity.verify_token(s, token, at=T0)
    assert [t["state"] for t in identity.list_tokens(s, who)] == ["revoked"]
    assert outcomes(s, "lrs.officer")[-4:] == [
        "token_expired",
        "token_unknown",
        "locked",
        "token_revoked",
    ]


@cache
def _empty_records() -> sa.Engine:
    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    return engine


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds("pst_{}_{}".format, st.text(max_size=14), st.text(max_size=50)),
    )
)
def test_any_string_is_refused_as_a_token(text: str) -> None:
    with Session(_empty_records()) as s, pytest.raises(SignInFailed):
        identity.verify_token(s, text)


def test_who_may_touch_whose_credentials(seeded: tuple) -> None:
    s, creds = seeded
    dora_issued = creds["dora.ops"]
    dora = identity.authenticate(
        s, "dora.ops", dora_issued.password, code(s, dora_issued)
    )
    op = LOCAL_OPERATOR
    # the local operator, or data operations, may not take over a deciding account
    for who in (op, dora, actor(s, "dora.ops")):
        with pytest.raises(Denied):
            identity.issue(s, who, "cass.chief")
        with pytest.raises(Denied):
            identity.enrol_totp(s, who, "pat.panel")
    # nor make, or reset, a data operations account without signing in
    with pytest.raises(Denied, match="without signing in"):
        orgs.add_user(
            s, op, "mallory.ops", "Mallory", "department", ["data_operations"]
        )
    with pytest.raises(Denied, match="without signing in"):
        identity.issue(s, op, "dora.ops")
    with pytest.raises(Denied, match="sign in with your password"):
        identity.issue(s, actor(s, "dora.ops"), "dora.ops")
    # a recipient's reset is data operations' to do; the new password works
    new = identity.issue(s, op, "dh.analyst")
    s.commit()
    assert identity.authenticate(s, "dh.analyst", new.password).signed_in
    with pytest.raises(SignInFailed):
        identity.authenticate(s, "dh.analyst", creds["dh.analyst"].password)
    # nobody unlocks themselves; a locked chief is unlocked only by a chief
    identity.lock(s, op, "cass.chief", "suspected phishing")
    for who in (op, dora):
        with pytest.raises(Denied):
            identity.unlock(s, who, "cass.chief", "sure")
    with pytest.raises(InvalidInput, match="refused"):
        identity.issue(s, dora, "dora.ops", "short")
    assert identity.issue(s, dora, "dora.ops", "a long enough password").password


def test_a_home_with_no_chief_who_can_sign_in_is_set_up_by_data_operations(
    session: Session,
) -> None:
    op = LOCAL_OPERATOR
    orgs.add_org(
        session, op, "department", "Department", "government department", "GOV-1"
    )
    orgs.add_user(
        session, op, "first.chief", "First", "department", ["chief_statistician"]
    )
    issued = identity.issue(session, op, "first.chief")
    assert issued.totp_secret and issued.totp_uri.startswith("otpauth://totp/")
    session.commit()
    # from now on only she grants deciding roles
    with pytest.raises(Denied):
        orgs.add_user(
            session, op, "second.chief", "Second", "department", ["chief_statistician"]
        )
    chief = identity.authenticate(
        session, "first.chief", issued.password, code(session, issued)
    )
    orgs.add_user(
        session, chief, "second.chief", "Second", "department", ["chief_statistician"]
    )
    assert identity.issue(session, chief, "second.chief").totp_secret


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with db.factory(db_url)() as s:
        yield s
    db.dispose(db_url)


def test_a_kept_sign_in_resumes_until_the_account_is_locked(seeded: tuple) -> None:
    s, creds = seeded
    who = identity.authenticate(s, "qcda.officer", creds["qcda.officer"].password)
    again = identity.resume(s, who.username, who.via)
    assert again == who
    with pytest.raises(SignInFailed):
        identity.resume(s, "qcda.officer", "")  # never signed in
    with pytest.raises(SignInFailed, match="code"):  # a privileged user's needs one
        identity.resume(s, "dora.ops", "password")
    identity.lock(s, LOCAL_OPERATOR, "qcda.officer", "left")
    s.flush()
    with pytest.raises(SignInFailed, match="locked"):
        identity.resume(s, "qcda.officer", "password")


def test_a_home_from_before_identity_upgrades_and_is_set_up_again(db_url: str) -> None:
    """Migrations have one head; an older home's users have no credentials, so
    nobody signs in until data operations issue them, the Chief Statistician
    first (no Chief Statistician can sign in yet)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    engine = sa.create_engine(db_url)
    with engine.begin() as con:
        cfg = db.alembic_config(con)
        assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1
        command.upgrade(cfg, "0001")
        con.execute(
            sa.text(
                "INSERT INTO organisations VALUES ('department', 'Department', "
                "'government department', 'GOV-1', '', '', NULL, 'active', "
                "'2026-01-01 00:00:00')"
            )
        )
        con.execute(
            sa.text(
                "INSERT INTO users VALUES ('old.chief', 'Old', 'department', "
                "'[\"chief_statistician\"]', 1, '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    with db.factory(db_url)() as s:  # migrates to head
        with pytest.raises(SignInFailed):
            identity.authenticate(s, "old.chief", "anything at all")
        issued = identity.issue(s, LOCAL_OPERATOR, "old.chief")
        s.commit()
        chief = identity.authenticate(s, "old.chief", issued.password, code(s, issued))
        assert chief.may("decide")
        assert outcomes(s, "old.chief") == ["no_password", "ok"]
    db.dispose(db_url)
