"""Helpers for the browser journeys (Playwright on Debian's Chromium, axe-core for WCAG 2.1 AA).

The journeys share one demo network, seeded once per session (demo_network in tests/conftest.py),
and see each other's changes: a journey must pass in any order after the others, so it changes
data no other journey relies on, or makes its own (a new session, say)."""

from axe_playwright_python.sync_playwright import Axe

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEMO_PASSWORD = "demo-wachtwoord"


def assert_accessible(page):
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert results.violations_count == 0, results.generate_report()


def log_in(page, live_server, email, password=DEMO_PASSWORD):
    page.goto(live_server.url + "/account/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
