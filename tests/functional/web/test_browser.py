"""The service as people use it, in a real headless Chromium (Debian's package).

One journey per test: the public pages; a wrong password and a locked account;
apply -> panel -> decide -> release (the command line, while the service runs) ->
download; and every page each kind of user has. A screenshot of every page goes to
``test-artefacts/screenshots`` (``PUPILSHARE_TEST_ARTEFACTS`` to move it).

Every page shown is also checked against WCAG 2.2 A and AA with axe-core
(``axe-playwright-python``): the HTML the person saw is served again, at its own
address, to a second page with JavaScript on (axe runs in the page; the person's
page has JavaScript off, as the service must work without it), and any violation
fails the test; axe's findings go beside the screenshots as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import copy_home
from tests.functional.web.conftest import fresh_code
from tests.functional.web.live import live_server

from pupilshare.config import Home

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTEFACTS = (
    Path(
        os.environ.get("PUPILSHARE_TEST_ARTEFACTS")
        or Path(__file__).parents[3] / "test-artefacts"
    )
    / "screenshots"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def home(demo_run, tmp_path_factory: pytest.TempPathFactory) -> Home:  # type: ignore[no-untyped-def]
    return copy_home(demo_run.home, tmp_path_factory.mktemp("browser") / "home")


@pytest.fixture(scope="module")
def site(home: Home) -> Iterator[str]:
    with live_server(home) as url:
        yield url


AUDITORS: dict[int, object] = {}  # the auditor of each person's page


@pytest.fixture
def page(browser, site):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=site, accept_downloads=True, java_script_enabled=False
    )
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    # a page with JavaScript on, where axe checks what the person's page showed
    audit = browser.new_context(base_url=site)
    AUDITORS[id(pg)] = audit.new_page()
    yield pg
    AUDITORS.pop(id(pg), None)
    audit.close()
    context.close()


# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe's tags for them)
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def accessible(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """axe-core finds no WCAG 2.2 A or AA violation in what ``page`` shows."""
    from axe_playwright_python.sync_playwright import Axe

    auditor = AUDITORS[id(page)]
    html, url = page.content(), page.url
    if "#" in url:
        url = url.split("#")[0]

    def serve_again(route) -> None:  # type: ignore[no-untyped-def]
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    auditor.route(url, serve_again)
    try:
        auditor.goto(url)
    finally:
        auditor.unroute(url, serve_again)
    options = {
        "runOnly": {"type": "tag", "values": WCAG_22_AA},
        "resultTypes": ["violations"],
    }
    found = Axe().run(auditor, options=options).response["violations"]
    (ARTEFACTS / f"{name}.axe.json").write_text(json.dumps(found, indent=1))
    assert not found, f"{name} ({url}): " + "; ".join(
        f"{v['impact']} {v['id']}: {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in found
    )


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    accessible(page, name)


def sign_in(page, home: Home, issued, password: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto("/sign-in")
    page.fill("#username", issued.username)
    page.fill("#password", password or issued.password)
    if issued.totp_secret:
        page.fill("#code", fresh_code(home, issued.username, issued.totp_secret))
    page.click("button:has-text('Sign in')")


def sign_out(page) -> None:  # type: ignore[no-untyped-def]
    page.click("button:has-text('Sign out')")


def test_public_register_notice_and_statistics(page, demo_run) -> None:  # type: ignore[no-untyped-def]
    page.goto("/register")
    assert page.locator("h1").inner_text() == "Register of pupil data shares"
    for agreement in demo_run.facts["agreements"]:
        assert page.locator(f"[id='{agreement}']").count() == 1, agreement
    shot(page, "01-register")
    page.goto("/privacy-notice")
    assert "Who the Department for Education passes pupil data to" in page.content()
    shot(page, "02-privacy-notice")
    page.goto("/statistics")
    assert page.locator("svg[role='img'] title").count() >= 1  # a chart, described
    assert page.locator("table.govuk-table").count() >= 1
    shot(page, "03-statistics")
    page.goto("/agreements")  # not public: sent to sign in
    assert page.url.endswith("/sign-in?next=/agreements")


def test_wrong_password_and_locked_account(page, home, demo_run) -> None:  # type: ignore[no-untyped-def]
    users = demo_run.facts["users"]
    sign_in(page, home, users["cqc.analyst"], password="not-the-password")
    assert page.locator(".govuk-error-summary").is_visible()
    assert "/sign-in" in page.url
    shot(page, "04-sign-in-wrong-password")
    from pupilshare import identity
    from pupilshare.governance import db
    from pupilshare.governance.access import LOCAL_OPERATOR

    with db.factory(home.db_url)() as s:
        identity.lock(s, LOCAL_OPERATOR, "fieldwork.manager", "reported stolen laptop")
        s.commit()
    sign_in(page, home, users["fieldwork.manager"])
    assert "locked" in page.locator(".govuk-error-summary").inner_text().lower()
    shot(page, "05-sign-in-locked")
    page.goto("/account")
    assert "/sign-in" in page.url  # still signed out


def test_apply_panel_decide_release_download(page, home, demo_run) -> None:  # type: ignore[no-untyped-def]
    users = demo_run.facts["users"]
    ref = "ier-gaps-browser"
    # the applicant: one item without its justification is flagged first
    sign_in(page, home, users["ier.researcher"])
    page.goto("/apply")
    page.fill("#id", ref)
    page.fill("#title", "Attainment gaps by disadvantage")
    page.select_option("#gateway", "pp-research")
    page.fill("#purpose", "research gaps in attainment between groups of pupils")
    page.check("input[name=level][value=pseudonymised]")
    page.fill("#expiry", "today+300")
    page.fill("#destroy_by", "today+330")
    page.fill("#year_groups", "6")
    page.fill("#dataset-census", "The groups compared.")
    page.fill("#dataset-ks_results", "The attainment studied.")
    for ref_item, why in (
        ("census-sex", "Gaps by sex."),
        ("census-fsm_eligible", "Gaps by disadvantage."),
        ("ks_results-subject", "Gaps differ by subject."),
        ("ks_results-outcome", ""),
    ):
        page.check(f"#item-{ref_item}")
        page.fill(f"#why-item-{ref_item}", why)
    page.click("button:has-text('Check the application')")
    summary = page.locator(".govuk-error-summary").inner_text()
    assert "ks_results.outcome: no justification given" in summary
    shot(page, "06-apply-flagged")
    page.fill("#why-item-ks_results-outcome", "The attainment measure.")
    page.click("button:has-text('Submit the application')")
    assert "Application submitted" in page.locator(".govuk-panel").inner_text()
    shot(page, "07-applied")
    sign_out(page)
    # data operations records the panel
    sign_in(page, home, users["dora.ops"])
    assert "/account" in page.url, page.content()[-3000:]
    page.goto("/panel")
    shot(page, "08-panel-queue")
    page.click(f"a:has-text('{ref}')")
    shot(page, "08b-panel-application")
    for member in ("pat.panel", "priya.panel", "peter.panel"):
        dash = member.replace(".", "-")
        page.check(f"input[name='view:{member}'][value=approve]")
        page.fill(f"#reasons-{dash}", "Justified, least identifying level.")
    page.click("button:has-text('Record the panel')")
    assert "The panel sitting is recorded" in page.content()
    sign_out(page)
    # the Chief Statistician decides and puts it in force
    sign_in(page, home, users["cass.chief"])
    page.goto(f"/panel/{ref}")
    page.check("input[name=outcome][value=approve]")
    page.fill("#reasons", "Lawful, necessary and proportionate.")
    page.click("button:has-text('Record the decision')")
    assert "The decision is recorded" in page.content()
    page.click("button:has-text('Put the agreement in force')")
    assert "The agreement is in force" in page.content()
    shot(page, "09-decided")
    sign_out(page)
    # data operations releases it from the command line while the service runs
    out = home.releases_dir / ref
    done = subprocess.run(
        [
            shutil.which("pupilshare")
            or str(Path(sys.executable).parent / "pupilshare"),
            "--home",
            str(home.root),
            "release",
            ref,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # the recipient follows it and downloads the manifest
    sign_in(page, home, users["ier.researcher"])
    page.goto(f"/agreements/{ref}")
    # pages may serve an answer read up to a few seconds before the release
    # (web/reader.py FRESH_FOR): the recipient reloads until the new release shows
    for _ in range(20):
        if page.locator("a[href^='/releases/']").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    shot(page, "10-agreement-progress")
    page.click("a[href^='/releases/']")
    shot(page, "11-release")
    with page.expect_download() as got:
        page.click("a:has-text('manifest.json')")
    manifest = json.loads(Path(got.value.path()).read_text())
    assert manifest["agreement_id"] == ref and manifest["level"] == "pseudonymised"


def test_the_accessibility_check_finds_violations(page) -> None:  # type: ignore[no-untyped-def]
    """The probe: a page with an unlabelled field, an image without alternative
    text and no language fails the check (so an empty result means something)."""
    bad = "<html><body><img src='/assets/x.png'><input name='q'></body></html>"
    page.route(
        "**/probe-inaccessible",
        lambda route: route.fulfill(status=200, content_type="text/html", body=bad),
    )
    page.goto("/probe-inaccessible")
    with pytest.raises(AssertionError) as failed:
        accessible(page, "probe-inaccessible")
    for rule in ("image-alt", "label", "html-has-lang"):
        assert rule in str(failed.value)


# every page each kind of user has, signed in as one of them; {first} follows the
# first link of the page before
PAGES_BY_USER = {
    "dh.analyst": (  # a recipient
        "/account",
        "/agreements",
        "/agreements/dh-ncmp",
        "{first:/releases/}",
    ),
    "ier.researcher": ("/apply",),  # an applicant
    "la1.officer": ("/local-authority/pupils", "/local-authority/pupils?page=2"),
    "pat.panel": ("/panel", "/panel/dh-ncmp"),
    "cass.chief": ("/panel", "/agreements"),
    "dora.ops": (
        "/operations/collections",
        "/operations/reviews",
        "{first:/operations/reviews/}",
        "/operations/reviews?status=all",
        "/no-such-page",
    ),
}


def test_every_page_of_every_kind_of_user_is_accessible(page, home, demo_run) -> None:  # type: ignore[no-untyped-def]
    users = demo_run.facts["users"]
    page.goto("/")
    shot(page, "40-home")
    page.goto("/accessibility")
    shot(page, "41-accessibility-statement")
    page.goto("/sign-in")
    shot(page, "42-sign-in")
    seen = 0
    for username, paths in PAGES_BY_USER.items():
        sign_in(page, home, users[username])
        assert "/sign-in" not in page.url, (username, page.content()[-2000:])
        for i, path in enumerate(paths):
            if path.startswith("{first:"):
                links = page.locator(f"a[href^='{path[7:-1]}']")
                if not links.count():
                    continue  # nothing of that kind in this home
                links.first.click()
            else:
                page.goto(path)
            shot(page, f"5{seen:02d}-{username}-{i}")
            seen += 1
        sign_out(page)
    assert seen >= 14


def test_a_learner_uses_their_own_record(page, home, demo_run) -> None:  # type: ignore[no-untyped-def]
    """The demo's learner (the awarding body was given access in the demo) sees
    who looked them up, withdraws the access, opts out and asks for a correction."""
    issued = demo_run.facts["users"]["learner.demo"]
    sign_in(page, home, issued)
    page.goto("/my-learning-record")
    shot(page, "learner-record")
    body = page.inner_text("main")
    assert "Your learning record" in body
    assert "nab" in body and "riverside" in body  # who looked them up
    assert "Mathematics" in body  # the achievement and its source
    page.click("button:has-text('Withdraw access for nab')")
    assert "Give access to nab" in page.inner_text("main")
    page.click("button:has-text('Opt out of sharing my achievements')")
    assert "You have opted out" in page.inner_text("main")
    page.select_option("#field", "postcode")
    page.fill("#value", "SW1A 2AA")
    page.click("button:has-text('Send correction request')")
    assert 'postcode to "SW1A 2AA"' in page.inner_text("main")
    assert "waiting to be checked" in page.inner_text("main")
    shot(page, "learner-record-after")
    sign_out(page)
    # data operations reject it on the learner service's page; the learner sees why
    sign_in(page, home, demo_run.facts["users"]["dora.ops"])
    page.goto("/operations/learner-service")
    assert "Learners' correction requests (1)" in page.inner_text("main")
    page.check("input[name='decision'][value='reject']")
    page.fill("input[name='note']", "the school's record says SW1A 1AA")
    page.click("button:has-text('Decide request')")
    assert "The correction request is decided" in page.inner_text("main")
    shot(page, "lrs-operations-correction")
    sign_out(page)
    sign_in(page, home, issued)
    page.goto("/my-learning-record")
    assert "the school's record says SW1A 1AA" in page.inner_text("main")
    sign_out(page)
