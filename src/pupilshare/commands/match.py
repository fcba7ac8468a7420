"""``pupilshare match``, ``review`` and ``link``: the pupil index and its queue."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from pupilshare import match as matching
from pupilshare.cliapp import console, context
from pupilshare.errors import InvalidInput, NotFound
from pupilshare.store import Store

DEFAULT_USER = "data-operations"


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput(
            f"--reference-date must be YYYY-MM-DD, not {value!r}"
        ) from None


def _num(value: float | None, spec: str) -> str:
    """A number as ``spec``, or "-" where there is none (a pupil-pupil review item
    rests on an identifier, not on the model's weights)."""
    return "-" if value is None else format(value, spec)


def _print_accuracy(acc: dict) -> None:

    t = Table(title="Pupil index against truth (pairwise, on records)")
    for col in (
        "precision",
        "recall",
        "F1",
        "records",
        "pupils",
        "persons",
        "in review",
        "review share",
        "unusable",
    ):
        t.add_column(col, justify="right")
    t.add_row(
        f"{acc['precision']:.4f}",
        f"{acc['recall']:.4f}",
        f"{acc['f1']:.4f}",
        f"{acc['records']:,}",
        f"{acc['pupils']:,}",
        f"{acc['persons']:,}",
        f"{acc['review_records']:,}",
        f"{acc['review_share']:.2%}",
        f"{acc['unusable']:,}",
    )
    console.print(t)
    console.print(
        f"F1 {acc['f1']:.4f} (precision {acc['precision']:.4f}, recall "
        f"{acc['recall']:.4f}); {acc['review_records']:,} records in review "
        f"({acc['review_share']:.2%})"
    )


def register(app: typer.Typer) -> None:
    @app.command("match")
    def match_cmd(
        ctx: typer.Context,
        retrain: bool = typer.Option(
            False,
            "--retrain",
            help="Train the Splink model again instead of reusing the saved one.",
        ),
        report: bool = typer.Option(
            False,
            "--report",
            help="Print precision, recall and F1 against the nation's truth file.",
        ),
        truth: Path = typer.Option(
            None,
            "--truth",
            help="Truth file (default: the "
            "demo nation's, or beside the collected files).",
        ),
        reference_date: str = typer.Option(
            None,
            "--reference-date",
            help="Date on which age 14 is judged (default today).",
        ),
        charts: Path = typer.Option(
            None,
            "--charts",
            help="Only write Splink's "
            "charts of the current model (match weights, m "
            "and u) to this directory, as PNG and an offline "
            "HTML page; match nothing.",
        ),
    ) -> None:
        """Match every record not yet matched into the pupil index.

        Thresholds are upper_threshold (default 0.9) and lower_threshold (default
        0.5) in the match section of pupilshare.toml. A record joins a pupil at or
        above the upper one, and only when that pupil is clearly the one among its
        candidates; between the two it is queued for review; below, it is a new
        pupil. The defaults and their measured precision, recall and review volume
        are in bench/RESULTS.md ("Thresholds").
        """
        c = context(ctx)
        c.require("match", "match records")
        home = c.home
        if charts is not None:
            for path in matching.model_charts(home, charts):
                console.print(f"  chart: {path}")
            return
        with Store.open(home) as store:
            r = matching.run_match(
                store, home, retrain=retrain, reference_date=_date(reference_date)
            )
            console.print(
                f"match run {r.run}: {r.records:,} new records; {r.exact:,} exact, "
                f"{r.probabilistic:,} by Splink; {r.new_pupils:,} new pupils; "
                f"{r.merged:,} merged; "
                f"{r.review:,} to review; {r.unusable:,} unusable; "
                f"{r.ulns_issued:,} ULNs issued; index {r.pupils:,} pupils "
                f"({r.seconds:.1f} s)"
            )
            for chart in r.charts:
                console.print(f"  chart: {chart}")
            if report:
                path = truth or matching.find_truth(store, home.root)
                if path is None:
                    raise NotFound("no truth file found; give --truth")
                _print_accuracy(matching.accuracy(store, Path(path)))

    review = typer.Typer(
        help="The clerical review queue of uncertain matches.", no_args_is_help=True
    )
    app.add_typer(review, name="review")

    @review.command("list")
    def review_list(
        ctx: typer.Context,
        status: str = typer.Option(
            "pending", "--status", help="pending, accepted, rejected or all"
        ),
    ) -> None:
        """Items in the queue, most likely matches first."""
        c = context(ctx)
        c.require("review", "read the review queue")
        with Store.open(c.home) as store:
            items = matching.list_reviews(store, status)
        t = Table(title=f"review queue ({status})")
        for col in ("id", "run", "probability", "weight", "records", "status"):
            t.add_column(col, justify="right")
        for i in items:
            t.add_row(
                str(i["review_id"]),
                str(i["match_run"]),
                _num(i["match_probability"], ".4f"),
                _num(i["match_weight"], ".2f"),
                str(i["records"]),
                i["status"],
            )
        console.print(t)

    @review.command("show")
    def review_show(ctx: typer.Context, review_id: int) -> None:
        """The records, the candidate pupil and why the model was unsure."""
        c = context(ctx)
        c.require("review", "read the review queue")
        with Store.open(c.home) as store:
            item = matching.show_review(store, review_id)
        console.print(
            f"review {item['review_id']} ({item['status']}): match probability "
            f"{_num(item['match_probability'], '.4f')}, match weight "
            f"{_num(item['match_weight'], '.2f')}"
        )
        t = Table(title="comparisons")
        for col in ("field", "level", "match weight"):
            t.add_column(col)
        for field, c in item["comparisons"].items():
            t.add_row(field, c["level"], _num(c["weight"], "+.2f"))
        console.print(t)
        people = Table(title="candidate pupil and records under review")
        cols = (
            "source",
            "upn",
            "uln",
            "forename",
            "surname",
            "date_of_birth",
            "sex",
            "postcode",
        )
        for col in cols:
            people.add_column(col)
        cand = item["candidate"]
        people.add_row("candidate", *(str(cand.get(c) or "") for c in cols[1:]))
        for r in item["records"]:
            people.add_row(
                f"{r['dataset']}:{r['collection_id']}:{r['line']}",
                *(str(r.get(c) or "") for c in cols[1:]),
            )
        console.print(people)

    def _decide(ctx: typer.Context, review_id: int, decide: Any, said: str) -> None:
        """Accept and reject differ only in the decision and what is printed."""
        c = context(ctx)
        who = c.require("review", "decide review items")
        with Store.open(c.home) as store:
            decide(store, review_id, who.username if who.named else DEFAULT_USER)
        console.print(f"review {review_id} {said}")

    @review.command("accept")
    def review_accept(ctx: typer.Context, review_id: int) -> None:
        """Same person: merge the records into the candidate pupil."""
        _decide(
            ctx,
            review_id,
            matching.accept_review,
            "accepted: records merged into the candidate",
        )

    @review.command("reject")
    def review_reject(ctx: typer.Context, review_id: int) -> None:
        """Different people: the records stay a pupil of their own."""
        _decide(
            ctx,
            review_id,
            matching.reject_review,
            "rejected: the records stay a separate pupil",
        )

    @app.command("link")
    def link_cmd(
        ctx: typer.Context,
        left: Path = typer.Argument(
            ..., help="CSV (UTF-8): id, forename, surname, dob[, postcode, sex, upn]"
        ),
        right: Path = typer.Argument(..., help="CSV with the same columns"),
        out: Path = typer.Option(..., "--out", help="Where to write the pairs CSV."),
        threshold: float = typer.Option(
            0.9, "--threshold", help="Lowest match probability written."
        ),
        charts: Path = typer.Option(
            None,
            "--charts",
            help="Also write the fitted "
            "model's charts (match weights, m and u) to this "
            "directory, as PNG and an offline HTML page.",
        ),
        explain: tuple[str, str] | None = typer.Option(
            None,
            "--explain",
            metavar="ID_LEFT ID_RIGHT",
            help="Show the comparison levels and weights behind one pair's score.",
        ),
        force: bool = typer.Option(
            False, "--force", help="Replace --out if it exists."
        ),
    ) -> None:
        """Link two files of people; write left_id, right_id, match_probability.

        The model is fitted to the two files themselves (u by random sampling, m by
        EM, the prior from exact agreement on three of the four person fields).
        Dates that are not dates are compared as typed; postcodes as text and, where
        UK shaped, by sector and district; a column filled in under half of either
        file is ignored. A file with a required column missing, text that is not
        UTF-8, or a missing or repeated id is refused and nothing is written.
        Splink runs on the engine `--engine` chooses (DuckDB, or Spark: the same
        pairs and probabilities).
        """
        from pupilshare.outputs import file_target

        context(ctx).require("link", "link files of people")
        file_target(out, force)
        pair = explain if explain and explain[0] else None
        r = matching.link_files(
            left, right, out, threshold, charts=charts, explain=pair
        )
        console.print(f"compared: {', '.join(r.used)}")
        if not r.fitted:
            console.print(
                "model: fixed default parameters (the files are too small "
                "to estimate m and u from)"
            )
        for col, why in r.ignored.items():
            console.print(f"ignored: {col} ({why})")
        console.print(f"{r.pairs:,} pairs at or above {threshold} written to {out}")
        for path in r.charts:
            console.print(f"  chart: {path}")
        if r.explanation:
            _print_explanation(pair, r.explanation)


def _print_explanation(pair: tuple[str, str], e: dict) -> None:
    """The pair's score built up as Splink's waterfall chart shows it."""
    t = Table(title=f"why {pair[0]} and {pair[1]} score as they do")
    for col in (
        "comparison",
        "left",
        "right",
        "level",
        "weight",
        "tf adjustment",
        "running total",
    ):
        t.add_column(col)
    total = e["prior_weight"]
    t.add_row(
        "prior",
        "",
        "",
        "two random records match",
        f"{total:+.2f}",
        "",
        f"{total:+.2f}",
    )
    for s in e["steps"]:
        total += s["weight"] + s["tf_weight"]
        t.add_row(
            s["comparison"],
            s["left"],
            s["right"],
            s["level"],
            f"{s['weight']:+.2f}",
            f"{s['tf_weight']:+.2f}" if s["tf_weight"] else "",
            f"{total:+.2f}",
        )
    console.print(t)
    console.print(
        f"match weight {e['match_weight']:+.2f}, match probability "
        f"{e['match_probability']:.6f}"
    )
    if not e["found_by_blocking"]:
        console.print("no blocking rule finds this pair: a run never scores it")
