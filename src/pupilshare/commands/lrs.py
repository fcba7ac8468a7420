"""``pupilshare lrs ...``: the learner service's agreements, register, review queue,
abuse watch and ledger sealing, for data operations."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The Learning Records Service: agreements, register, reviews, abuse "
        "watch, sealing answers into the ledger.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="lrs")

    @group.command("agree")
    def agree(
        ctx: typer.Context,
        org: str = typer.Argument(..., help="The organisation (governance records)."),
        agreement_id: str = typer.Option(..., "--id", help="The agreement's id."),
        purpose: str = typer.Option(..., "--purpose", help="What look-ups are for."),
        monthly_volume: int = typer.Option(
            ..., "--monthly-volume", help="Look-ups a month the organisation expects."
        ),
        items: str = typer.Option(
            "uln,forenames,surname,date_of_birth",
            "--items",
            help="Comma-separated items its answers may hold: uln, forenames, "
            "surname, date_of_birth, sex, postcode, upn, achievements.",
        ),
    ) -> None:
        """Submit an organisation's agreement to use the learner service: it is
        decided like any other (`lrs panel`, then `lrs decide`) before the service
        answers a look-up under it."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        c = context(ctx)
        row = lrs.add_agreement(
            c.home,
            c.principal(),
            agreement_id,
            org,
            purpose,
            monthly_volume,
            [i.strip() for i in items.split(",") if i.strip()],
        )
        console.print(
            f"agreement {row['agreement_id']}: {org}, {monthly_volume} look-ups a "
            f"month, items {', '.join(row['items'])}; {row['status']}, it now awaits "
            "the approval panel",
            highlight=False,
        )

    @group.command("panel")
    def panel(
        ctx: typer.Context,
        agreement_id: str = typer.Argument(..., help="The agreement's id."),
        view: list[str] = typer.Option(
            [], "--view", help="member=approve|reject|abstain: reasons"
        ),
        conflict: list[str] = typer.Option([], "--conflict", help="member=declaration"),
    ) -> None:
        """Record the approval panel's sitting on a learner-service agreement
        (never by whoever submitted it, nor an account in one chain with them)."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        views = []
        for v in view:
            member, _, rest = v.partition("=")
            kind, _, reasons = rest.partition(":")
            views.append(
                {"member": member.strip(), "view": kind.strip(), "reasons": reasons}
            )
        for c in conflict:
            member, _, text = c.partition("=")
            views.append({"member": member.strip(), "conflict": text or "declared"})
        c = context(ctx)
        d = lrs.record_agreement_panel(c.home, c.principal(), agreement_id, views)
        console.print(f"panel on {agreement_id}: {d['outcome']}", highlight=False)

    @group.command("decide")
    def decide(
        ctx: typer.Context,
        agreement_id: str = typer.Argument(..., help="The agreement's id."),
        approve: bool = typer.Option(..., "--approve/--reject"),
        reason: str = typer.Option(..., "--reason"),
    ) -> None:
        """The Chief Statistician's decision on a learner-service agreement, after a
        quorate panel (never on their own submission)."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        c = context(ctx)
        row = lrs.decide_agreement(c.home, c.principal(), agreement_id, approve, reason)
        console.print(
            f"{agreement_id}: {row['outcome']}; now {row['status']}", highlight=False
        )

    @group.command("agreements")
    def agreements(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List the learner-service agreements."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        c = context(ctx)
        rows = lrs.list_agreements(c.home, c.principal())
        if as_json:
            typer.echo(json.dumps(rows))
            return
        for r in rows:
            console.print(
                f"{r['agreement_id']}  {r['org_id']}  {r['status']}  "
                f"{r['monthly_volume']}/month  {','.join(r['items'])}",
                highlight=False,
            )

    @group.command("sync")
    def sync(ctx: typer.Context) -> None:
        """Put every pupil of the index who holds a ULN on the register."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context
        from pupilshare.store import Store

        c = context(ctx)
        who = c.principal()
        with Store.open(c.home) as store:
            got = lrs.sync_index(c.home, who, store)
        console.print(
            f"register: {got['added']} added, {got['present']} already there, "
            f"{got['unusable']} with details the service cannot hold",
            highlight=False,
        )

    @group.command("seal")
    def seal(
        ctx: typer.Context,
        every: float = typer.Option(
            0,
            "--every",
            help="Keep sealing, every this many seconds (the service's sealer); "
            "0: seal once.",
        ),
        while_pid: int = typer.Option(
            0, "--while-pid", help="With --every: stop when this process has ended."
        ),
    ) -> None:
        """Seal the service's recorded answers and watch events into the ledger."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context
        from pupilshare.store import Store

        c = context(ctx)
        c.require("lrs_manage", "seal the learner service's records")
        if every > 0:
            lrs.seal_every(c.home, every, while_pid or None)
            return
        with Store.open(c.home) as store:
            n = lrs.seal(c.home, store)
        console.print(f"sealed {n} entries into the ledger", highlight=False)

    @group.command("reviews")
    def reviews(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Registrations held for clerical review (possible matches)."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        c = context(ctx)
        rows = lrs.list_reviews(c.home, c.principal())
        if as_json:
            typer.echo(json.dumps(rows))
            return
        for r in rows:
            console.print(
                f"case {r['case']}  {r['org_id']}  {r['user']}  {r['at']}  "
                f"{r['candidates']} candidates  {r['status']}",
                highlight=False,
            )

    @group.command("watch")
    def watch(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Organisations the abuse watch flagged: events and open holds."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        c = context(ctx)
        rows = lrs.flagged(c.home, c.principal())
        if as_json:
            typer.echo(json.dumps(rows))
            return
        for o in rows:
            holds = ", ".join(f"{h['user']} {h['state']}" for h in o["open_holds"])
            console.print(
                f"{o['org_id']}: {len(o['events'])} events; open holds: "
                f"{holds or 'none'}",
                highlight=False,
            )

    @group.command("lift")
    def lift(
        ctx: typer.Context,
        org: str = typer.Argument(..., help="The organisation."),
        user: str = typer.Option(
            "", "--user-name", help="Only this user's holds (default: all the org's)."
        ),
    ) -> None:
        """Lift the abuse watch's throttles and suspensions after review."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        c = context(ctx)
        n = lrs.lift_holds(c.home, c.principal(), org, user)
        console.print(f"lifted {n} holds of {org}", highlight=False)

    @group.command("achievements")
    def achievements(
        ctx: typer.Context,
        file: Path = typer.Argument(
            ...,
            help="CSV: uln, surname, date_of_birth, qualification, subject, grade, "
            "awarded_on.",
        ),
    ) -> None:
        """Submit an awarding organisation's results (as its user, ``--token``):
        all loaded or none, with file:line:field:reason."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context
        from pupilshare.errors import InvalidInput

        c = context(ctx)
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInput(f"{file.name}:1:file:cannot be read ({e})") from None
        got = lrs.submit_achievements(c.home, c.principal(), text, file.name)
        console.print(
            f"loaded {got['achievements']} achievements of {got['learners']} learners",
            highlight=False,
        )

    @group.command("learner-account")
    def learner_account(
        ctx: typer.Context,
        uln: str = typer.Argument(..., help="The learner's ULN."),
        username: str = typer.Option(..., "--username", help="Their user name."),
    ) -> None:
        """Give a learner of 14 or over a sign-in to their own record; prints the
        password to hand them."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        c = context(ctx)
        issued = lrs.create_learner_account(c.home, c.principal(), uln, username)
        console.print(
            f"{issued.username} may sign in to /my-learning-record with password "
            f"{issued.password}",
            highlight=False,
        )

    @group.command("review")
    def review(
        ctx: typer.Context,
        case: int = typer.Argument(..., help="The case number (`lrs reviews`)."),
        same: str = typer.Option(
            None, "--same", help="The candidate's ULN, when the case is that learner."
        ),
        new: bool = typer.Option(
            False, "--new", help="A new learner: issue a new ULN."
        ),
    ) -> None:
        """Decide a registration held for review: one of its candidates or new."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context
        from pupilshare.errors import InvalidInput

        if bool(same) == new:
            raise InvalidInput("give one of --same ULN or --new")
        c = context(ctx)
        got = lrs.resolve_review(c.home, c.principal(), case, same)
        console.print(f"case {case}: {got['outcome']}", highlight=False)

    @group.command("corrections")
    def corrections(
        ctx: typer.Context,
        status: str = typer.Option(
            "open", "--status", help="open, accepted, rejected or all."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Learners' requests to correct a detail on the register."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context

        c = context(ctx)
        rows = lrs.list_corrections(c.home, c.principal(), status)
        if as_json:
            typer.echo(json.dumps(rows))
            return
        for r in rows:
            console.print(
                f"correction {r['correction']}  {r['uln']}  {r['field']}: "
                f"{r['current']!r} -> {r['value']!r}  {r['at']}  {r['status']}"
                + (f" by {r['decided_by']}: {r['note']}" if r["decided_by"] else ""),
                highlight=False,
            )

    @group.command("correction")
    def correction(
        ctx: typer.Context,
        number: int = typer.Argument(..., help="The request (`lrs corrections`)."),
        accept: bool = typer.Option(
            False, "--accept", help="Correct the register as asked."
        ),
        reject: bool = typer.Option(False, "--reject", help="Leave it as it is."),
        note: str = typer.Option(
            "", "--note", help="Why (required to reject; the learner sees it)."
        ),
    ) -> None:
        """Decide a learner's correction request: accept or reject it."""
        from pupilshare import lrs
        from pupilshare.cliapp import console, context
        from pupilshare.errors import InvalidInput

        if accept == reject:
            raise InvalidInput("give one of --accept or --reject")
        c = context(ctx)
        got = lrs.decide_correction(c.home, c.principal(), number, accept, note)
        console.print(
            f"correction {number}: {got['status']} ({got['field']})", highlight=False
        )
