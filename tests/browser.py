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


SMALL_TARGETS = """() => {
  const small = [];
  const selector = 'button, input:not([type=hidden]), select, textarea, summary, a.button, nav a, .pagination a';
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (getComputedStyle(el).visibility === 'hidden' || el.closest('.visually-hidden')) continue;
    if (box.width < 24 || box.height < 24) {
      small.push(`${el.outerHTML.slice(0, 90)} (${Math.round(box.width)}x${Math.round(box.height)})`);
    }
  }
  return small;
}"""


def assert_targets_big_enough(page):
    """Every control (not links inside running text) is at least 24 x 24 px (WCAG 2.2, 2.5.8)."""
    small = page.evaluate(SMALL_TARGETS)
    assert small == [], small
