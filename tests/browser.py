"""Helpers for the browser journeys (Playwright on Debian's Chromium, axe-core for WCAG 2.1 AA,
the Nu HTML checker for valid HTML).

The journeys share one demo network, seeded once per session (demo_network in tests/conftest.py),
and see each other's changes: a journey must pass in any order after the others, so it changes
data no other journey relies on, or makes its own (a new session, say)."""

import atexit
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

ROOT = Path(__file__).resolve().parent.parent
VNU_JAR = ROOT / ".cache" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
_validator: dict = {}

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEMO_PASSWORD = "demo-wachtwoord"


def assert_accessible(page):
    """WCAG 2.1 AA by axe-core, and valid HTML by the Nu HTML checker, of the page as it is now
    (so after an htmx swap, the swapped state)."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert results.violations_count == 0, results.generate_report()
    assert_valid_html(page)


def _validator_url() -> str:
    """The Nu HTML checker as a local HTTP service, started once per test run."""
    if "url" in _validator:
        return _validator["url"]
    jar = Path(os.environ.get("VNU_JAR") or VNU_JAR)
    java = shutil.which("java")
    if not jar.exists() or java is None:
        pytest.fail(
            "The Nu HTML checker is missing: `make test` installs it (npm install --prefix "
            ".cache/vnu vnu-jar) and it needs Java (apt-get install default-jre-headless)."
        )
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [
            java,
            "-cp",
            str(jar),
            "-Dnu.validator.servlet.bind-address=127.0.0.1",
            "nu.validator.servlet.Main",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    url = f"http://127.0.0.1:{port}/?out=json"
    for _ in range(240):  # the JVM takes a few seconds on a busy machine
        if process.poll() is not None:
            pytest.fail("The Nu HTML checker did not start (java exited).")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.25)
    _validator["url"] = url
    return url


def assert_valid_html(page):
    """Zero errors from the Nu HTML checker for the page's current DOM."""
    request = urllib.request.Request(  # noqa: S310 - the local checker
        _validator_url(),
        data=page.content().encode(),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        messages = json.load(response)["messages"]
    errors = [
        f"{m.get('lastLine')}: {m['message']} [{m.get('extract', '')}]"
        for m in messages
        if m["type"] == "error" or m.get("subType") == "fatal"
    ]
    assert errors == [], f"{page.url}\n" + "\n".join(errors)


def log_in(page, live_server, email, password=DEMO_PASSWORD):
    page.goto(live_server.url + "/account/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen", exact=True).click()


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


BROKEN_WORDS = """() => {
  const broken = [];
  for (const cell of document.querySelectorAll('td:not(.text), th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g;
      let match;
      while ((match = re.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""


def assert_no_broken_words_in_tables(page):
    """No word in a table's data is split over two lines (a wide table scrolls instead); prose
    cells (class "text") wrap at spaces and hyphens like any text."""
    broken = page.evaluate(BROKEN_WORDS)
    assert broken == [], broken
