"""``pupilshare optouts ...`` and ``pupilshare sar ...``: people's rights, recorded
by data operations on the word of the pupil (12 or over) or a parent."""

from __future__ import annotations

from pathlib import Path

import typer

REQUESTER = typer.Option(..., "--requester", help="Who asks: pupil or parent.")
REQUESTER_NAME = typer.Option(..., "--requester-name", help="The asker's name.")
IDENTITY = typer.Option(
    ...,
    "--identity-check",
    help="How the asker's identity was "
    "checked (e.g. 'passport seen at school office').",
)
FORENAME = typer.Option(..., "--forename", help="The pupil's forename.")
SURNAME = typer.Option(..., "--surname", help="The pupil's surname.")
DOB = typer.Option(..., "--dob", help="The pupil's date of birth, YYYY-MM-DD.")
UPN = typer.Option(None, "--upn", help="The pupil's UPN, if known.")
OPTOUT_TYPE = typer.Option(
    ..., "--type", help="learning_records, survey, research or all."
)
ULN = typer.Option(None, "--uln", help="The pupil's ULN, if known.")


def _actor(ctx: typer.Context, permission: str, what: str):  # type: ignore[no-untyped-def]
    """The permission table's check, then who is recorded as having acted."""
    from pupilshare.cliapp import context

    c = context(ctx)
    c.require(permission, what)
    return c, c.user or "operator"


def register(app: typer.Typer) -> None:
    optouts = typer.Typer(
        help="Opt-outs: add, withdraw, list, check, exempt.", no_args_is_help=True
    )
    sar = typer.Typer(
        help="Subject access requests: request, answer, list.", no_args_is_help=True
    )
    survey = typer.Typer(
        help="Survey samples of parents' contact details.", no_args_is_help=True
    )
    accounts = typer.Typer(
        help="Parents' and pupils' web accounts, linked to the pupils they act for.",
        no_args_is_help=True,
    )
    app.add_typer(accounts, name="accounts")
    app.add_typer(optouts, name="optouts")
    app.add_typer(sar, name="sar")
    app.add_typer(survey, name="survey")

    @survey.command("sample")
    def sample(
        ctx: typer.Context,
        agreement_id: str = typer.Argument(..., help="The survey agreement."),
        size: int = typer.Option(..., "--size", help="Contacts to draw."),
        strata: str = typer.Option(
            "region,school_type,fsm", "--strata", help="Comma-separated strata."
        ),
        seed: int = typer.Option(1, "--seed", help="Seed of the draw."),
        out: Path = typer.Option(..., "--out", help="Directory to deliver into."),
    ) -> None:
        """Draw a reproducible stratified random sample of contact details, only of
        parents who agreed and did not opt out; recorded in the ledger."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, _ = _actor(ctx, "release", "draw survey samples")
        names = tuple(s.strip() for s in strata.split(",") if s.strip())
        got = rights.survey_sample(c.home, c.user, agreement_id, size, names, seed, out)
        console.print(
            f"drew {got.size} contacts into {got.out_dir} (ledger entry "
            f"{got.entry_index})",
            highlight=False,
        )
        for stratum, n in got.strata.items():
            console.print(f"  {stratum}: {n}", highlight=False)

    def _opt_out_command(action: str, doc: str):  # type: ignore[no-untyped-def]
        """``optouts add`` and ``optouts withdraw``: the same options, one action."""

        def command(
            ctx: typer.Context,
            optout_type: str = OPTOUT_TYPE,
            forename: str = FORENAME,
            surname: str = SURNAME,
            dob: str = DOB,
            upn: str = UPN,
            uln: str = ULN,
            requester: str = REQUESTER,
            requester_name: str = REQUESTER_NAME,
            identity_check: str = IDENTITY,
        ) -> None:
            from pupilshare import rights
            from pupilshare.cliapp import console

            c, actor = _actor(ctx, "record_rights", "record opt-outs")
            who = rights.subject(forename, surname, dob, upn, uln)
            outcome = rights.opt_out(
                c.home,
                who,
                optout_type,
                action,
                requester,
                requester_name,
                identity_check,
                actor,
            )
            console.print(outcome.message, highlight=False)

        command.__doc__ = doc
        return command

    optouts.command("add")(
        _opt_out_command(
            "add", "Register an opt-out (idempotent); kept until the pupil is matched."
        )
    )
    optouts.command("withdraw")(
        _opt_out_command("withdraw", "Withdraw an opt-out (the history keeps both).")
    )

    @optouts.command("list")
    def list_(ctx: typer.Context) -> None:
        """Every opt-out event, oldest first, and how many wait for a match."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, _ = _actor(ctx, "read_rights", "read opt-outs")
        events, waiting = rights.list_opt_outs(c.home)
        for e in events:
            console.print(
                f"{e['event_id']:>4} {e['recorded_at']:%Y-%m-%d %H:%M} {e['action']:8} "
                f"{e['optout_type']:16} by {e['requester']} ({e['identity_check']}); "
                f"recorded by {e['recorded_by']}",
                highlight=False,
                markup=False,
            )
        console.print(
            f"{len(events)} events; {waiting} opt-outs wait for their "
            "pupil to be matched",
            highlight=False,
        )

    @optouts.command("check")
    def check(ctx: typer.Context) -> None:
        """Prove from the ledger and the delivered files that no opted-out pupil is
        in a release made after their opt-out. Exit 1 when one is."""
        from pupilshare import rights
        from pupilshare.cliapp import console
        from pupilshare.errors import PupilshareError

        c, _ = _actor(ctx, "read_rights", "check opt-outs")
        n, problems = rights.check_opt_outs(c.home)
        if problems:
            raise PupilshareError(
                f"OPT-OUTS BREACHED: {len(problems)} problem(s) in {n} releases",
                problems,
            )
        console.print(
            f"opt-outs honoured in all {n} releases in the ledger "
            "(files unchanged since delivery)",
            highlight=False,
        )

    @optouts.command("exempt")
    def exempt(
        ctx: typer.Context,
        agreement_id: str = typer.Argument(..., help="The agreement."),
        legal_duty: str = typer.Option(
            ..., "--legal-duty", help="The legal duty that overrides opt-outs."
        ),
    ) -> None:
        """Exempt an agreement from opt-outs (a named Chief Statistician only)."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, actor = _actor(ctx, "exempt_opt_outs", "exempt an agreement from opt-outs")
        rights.exempt(c.home, agreement_id, actor, legal_duty)
        console.print(
            f"{agreement_id}: opt-outs overridden by {legal_duty} "
            f"(approved by {actor})",
            highlight=False,
        )

    @sar.command("request")
    def request(
        ctx: typer.Context,
        forename: str = FORENAME,
        surname: str = SURNAME,
        dob: str = DOB,
        upn: str = UPN,
        uln: str = ULN,
        requester: str = REQUESTER,
        requester_name: str = REQUESTER_NAME,
        identity_check: str = IDENTITY,
        child_consent: str = typer.Option(
            None,
            "--child-consent",
            help=(
                "For a parent asking about a pupil of 12 or over: how the "
                "pupil's consent was recorded."
            ),
        ),
    ) -> None:
        """Record a subject access request; the one-month deadline starts today."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, actor = _actor(ctx, "record_rights", "record subject access requests")
        who = rights.subject(forename, surname, dob, upn, uln)
        rid = rights.sar_request(
            c.home, who, requester, requester_name, identity_check, actor, child_consent
        )
        console.print(f"recorded {rid}", highlight=False)

    @sar.command("answer")
    def answer(
        ctx: typer.Context,
        request_id: str = typer.Argument(..., help="The request."),
        out: Path = typer.Option(..., "--out", help="Directory for the pack."),
    ) -> None:
        """Write the response pack (JSON and HTML) with ledger proofs."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, actor = _actor(ctx, "record_rights", "answer subject access requests")
        pack = rights.sar_answer(c.home, request_id, out, actor)
        console.print(
            f"{pack.request_id}: {pack.outcome}; {pack.records} records, "
            f"{pack.disclosures} disclosures; {pack.html_path}",
            highlight=False,
        )

    @sar.command("check")
    def check_identity(
        ctx: typer.Context,
        request_id: str = typer.Argument(..., help="The request, asked online."),
        identity_check: str = IDENTITY,
        account: str = typer.Option(
            None,
            "--account",
            help="A parent's or pupil's account that may follow it online.",
        ),
    ) -> None:
        """Record how an online requester's identity was checked: the request opens
        and its one-month deadline starts today."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, actor = _actor(ctx, "record_rights", "check requesters' identity")
        if account:
            _parent_account(c, account)
        got = rights.check_identity(c.home, request_id, identity_check, actor, account)
        console.print(
            f"{request_id}: identity checked; due {got['due_date']}", highlight=False
        )

    @sar.command("list")
    def list_sar(
        ctx: typer.Context,
        overdue: bool = typer.Option(
            False, "--overdue", help="Only open requests past their deadline."
        ),
    ) -> None:
        """Requests with their status and deadline."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, _ = _actor(ctx, "read_rights", "list subject access requests")
        rows = rights.sar_list(c.home, overdue)
        for r in rows:
            console.print(
                f"{r['request_id']} {r['status']:9} due {r['due_date']} "
                f"({r['requester']})",
                highlight=False,
            )
        console.print(f"{len(rows)} request(s)" + (" overdue" if overdue else ""))

    @accounts.command("link")
    def link(
        ctx: typer.Context,
        username: str = typer.Argument(..., help="The parent's or pupil's account."),
        relation: str = typer.Option(
            ..., "--relation", help="self (the pupil's own account) or child."
        ),
        forename: str = FORENAME,
        surname: str = SURNAME,
        dob: str = DOB,
        upn: str = UPN,
        uln: str = ULN,
        identity_check: str = typer.Option(
            ...,
            "--identity-check",
            help="How the person's identity, and a parent's relationship to the "
            "child, were checked.",
        ),
    ) -> None:
        """Let an account act for a pupil on the web: ask for their data, follow the
        request and register opt-outs (a pupil of 12 or over for themself)."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, actor = _actor(ctx, "record_rights", "link accounts to pupils")
        _parent_account(c, username)
        who = rights.subject(forename, surname, dob, upn, uln)
        got = rights.link_account(
            c.home, username, who, relation, identity_check, actor
        )
        console.print(
            f"{username} linked to {got.who.forename} {got.who.surname} "
            f"({got.relation}, link {got.link_id})",
            highlight=False,
        )

    @accounts.command("list")
    def list_accounts(ctx: typer.Context) -> None:
        """Every link in force: account, relation, pupil, who linked it and how."""
        from pupilshare import rights
        from pupilshare.cliapp import console

        c, _ = _actor(ctx, "read_rights", "list linked accounts")
        rows = rights.linked_accounts(c.home)
        for got in rows:
            console.print(
                f"{got.link_id:>4} {got.username} {got.relation:5} "
                f"{got.who.forename} {got.who.surname} {got.who.date_of_birth} "
                f"(by {got.linked_by}: {got.identity_check})",
                highlight=False,
                markup=False,
            )
        console.print(f"{len(rows)} link(s)")


def _parent_account(c, username: str) -> None:  # type: ignore[no-untyped-def]
    """The account exists, is active and is a parent's or pupil's."""
    from pupilshare import governance
    from pupilshare.errors import InvalidInput

    with governance.records(c.home, None) as (session, who):
        users = {u["username"]: u for u in governance.list_users(session, who)}
    user = users.get(username)
    roles = (user or {}).get("roles") or []
    if user is None or not user["active"] or "parent_or_pupil" not in roles:
        raise InvalidInput(
            f"{username} is not a parent's or pupil's account "
            "(users add NAME --role parent_or_pupil)"
        )
