"""A parent's access request, as people make it, in a real headless Chromium (the
fixtures and the Chromium lookup of ``test_browser``): someone without an account
asks and gets a reference; the demo's parent signs in, asks about their linked
child, follows the request while the department answers it from the command line,
downloads the answer, and opts the child out of survey contact. Screenshots go to
``test-artefacts/screenshots`` with the other browser tests'."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from tests.functional.web import test_browser as browser_tests
from tests.functional.web.conftest import store_rows

from pupilshare.rights.identity import OWN_RIGHTS_AGE, age_on

pytestmark = pytest.mark.browser
# the browser tests' fixtures: Chromium, a copy of the demo's home, its live service
browser = browser_tests.browser
home = browser_tests.home
site = browser_tests.site
page = browser_tests.page
shot, sign_in = browser_tests.shot, browser_tests.sign_in


def _pupilshare(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "pupilshare"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=300
    )


def test_a_parents_access_request(page, home, demo_run) -> None:  # type: ignore[no-untyped-def]
    # someone without an account asks about a child under 12
    fn, sn, dob = next(
        r
        for r in store_rows(
            home,
            "SELECT forename, surname, date_of_birth FROM pupils ORDER BY pupil_key",
        )
        if age_on(r[2], date.today()) < OWN_RIGHTS_AGE
    )
    page.goto("/")
    page.click("a:has-text('Ask for a copy of the data')")
    assert page.locator("h1").inner_text() == "Your data: parents and pupils"
    shot(page, "20-your-data")
    page.click("a:has-text('Start now')")
    page.click("button:has-text('Send request')")  # nothing filled in
    assert page.locator(".govuk-error-summary").is_visible()
    shot(page, "21-access-request-errors")
    page.check("input[name=requester][value=parent]")
    page.fill("#requester_name", "Alex Example")
    page.fill("#contact", "alex@example.org")
    page.fill("#forename", fn)
    page.fill("#surname", sn)
    page.fill("#dob-day", str(dob.day))
    page.fill("#dob-month", str(dob.month))
    page.fill("#dob-year", str(dob.year))
    page.click("button:has-text('Send request')")
    panel = page.locator(".govuk-panel").inner_text()
    assert "Request received" in panel and "SAR-" in panel
    shot(page, "22-access-request-received")
    ref = next(w for w in panel.split() if w.startswith("SAR-"))
    status = store_rows(
        home, f"SELECT status FROM sar_requests WHERE request_id = '{ref}'"
    )
    assert status == [("awaiting_identity",)], (ref, panel)

    # the demo's parent, whose account the department linked to their child
    parent = demo_run.facts["users"]["pip.parent"]
    _, cfn, csn, cdob, _ = demo_run.facts["sar_pupil"]
    sign_in(page, home, parent)
    page.goto("/your-data/request")
    page.check("input[name=link]")
    if age_on(cdob, date.today()) >= OWN_RIGHTS_AGE:
        page.fill("#child_consent", "signed letter from my child")
    shot(page, "23-access-request-linked")
    page.locator("button:has-text('Send request')").first.click()
    assert "Request received" in page.locator(".govuk-panel").inner_text()
    page.click("a:has-text('your requests')")
    assert f"A copy of {cfn} {csn}'s data" in page.locator("h1").inner_text()
    assert "Being prepared" in page.content()
    rid = page.url.rstrip("/").split("/")[-1]
    shot(page, "24-access-request-progress")

    # the department answers it from the command line while the service runs
    done = _pupilshare(
        "--home", str(home.root), "sar", "answer", rid, "--out", str(home.root / "ans")
    )
    assert done.returncode == 0, done.stderr
    for _ in range(20):  # pages may serve an answer read a few seconds before
        if page.locator("a:has-text('Download the answer (web page')").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    assert "Answered" in page.content()
    shot(page, "25-access-request-answered")
    with page.expect_download() as got:
        page.click("a:has-text('Download the answer (web page')")
    answer = Path(got.value.path()).read_text()
    assert csn in answer and "How to check a disclosure yourself" in answer

    # and opts the child out of survey contact
    page.goto("/your-data/opt-outs")
    page.click("button:has-text('Opt out'):has-text('surveys')")
    assert (
        "survey opt-out registered"
        in page.locator(".govuk-notification-banner").inner_text()
    )
    assert "Opted out since" in page.content()
    shot(page, "26-opt-outs")
