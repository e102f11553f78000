"""The pictures of the bureau's pages, read in Chromium in both languages: the shapes must be
drawn (numbers in SVG never go through localisation: a Dutch decimal comma draws nothing)."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser import assert_accessible, log_in

pytestmark = pytest.mark.browser

SHAPES_INSIDE = """(selector) => {
  const svg = document.querySelector(selector);
  const frame = svg.getBoundingClientRect();
  // A horizontal or vertical line has a box of no height or width; nothing drawn has neither.
  const inside = (box) => (box.width > 0 || box.height > 0)
    && box.left >= frame.left - 1 && box.right <= frame.right + 1
    && box.top >= frame.top - 1 && box.bottom <= frame.bottom + 1;
  const count = (shapes) => {
    const all = [...svg.querySelectorAll(shapes)];
    return [all.length, all.filter((el) => inside(el.getBoundingClientRect())).length];
  };
  const lines = [...svg.querySelectorAll('line')];
  const drawn = lines.filter((l) => l.x1.baseVal.value !== 0 || l.y1.baseVal.value !== 0
    || l.x2.baseVal.value !== 0 || l.y2.baseVal.value !== 0).length;
  return {dots: count('circle'), lines: count('line'), drawnLines: drawn,
          labels: count('text'), width: frame.width};
}"""


def in_language(page, live_server, language):
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    )


# Every text drawn, at the size it is read on the screen (its font size times the drawing's
# scale), and whether it lies inside its card (nothing cut off).
TEXT_SIZES = """(selector) => {
  const sizes = [];
  for (const svg of document.querySelectorAll(selector)) {
    const scale = svg.getScreenCTM().a;
    for (const t of svg.querySelectorAll('text')) {
      sizes.push(parseFloat(getComputedStyle(t).fontSize) * scale);
    }
  }
  return {smallest: Math.min(...sizes), count: sizes.length};
}"""

SIZES = [(375, "nl"), (375, "en"), (1280, "nl"), (1280, "en")]


@pytest.mark.parametrize(("width", "language"), SIZES)
def test_the_network_picture_draws_its_dots_and_lines_in_both_languages(
    page, live_server, demo_network, width, language
):
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    in_language(page, live_server, language)
    page.goto(live_server.url + "/beheer/netwerk/")
    seen = page.evaluate(SHAPES_INSIDE, ".network-picture svg")
    dots, dots_inside = seen["dots"]
    lines, lines_inside = seen["lines"]
    assert dots > 5, seen
    assert dots_inside == dots, seen
    assert lines > 5, seen
    assert lines_inside == lines, seen
    assert seen["drawnLines"] == lines, seen
    labels, labels_inside = seen["labels"]
    assert labels == dots  # every dot named
    assert labels_inside == labels, seen
    # Labels are spread over the drawing, not piled in the top-left corner, and none overlaps
    # another.
    corners = page.evaluate(
        """() => [...document.querySelectorAll('.network-picture svg text')]
             .filter((t) => t.x.baseVal.length && t.x.baseVal[0].value < 1
                         && t.y.baseVal[0].value < 1).length"""
    )
    assert corners == 0
    assert page.evaluate(LABELS_OVERLAP, ".network-picture svg") == []
    text = page.evaluate(TEXT_SIZES, ".network-picture svg")
    assert text["smallest"] >= 11, text
    # The page itself does not scroll sideways (a wide drawing scrolls in its own box).
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Each tie is named for the keyboard: tab to it and it is a link with that name.
    tie = page.locator(".network-picture a.tie").first
    tie.focus()
    expect(tie).to_be_focused()
    name = "takes part in" if language == "en" else "doet mee aan"
    assert name in tie.get_attribute("aria-label")
    assert name in tie.locator("title").text_content()
    # The same data as a table.
    assert page.locator("table tbody tr").count() > 3
    assert_accessible(page)


# Pairs of labels whose drawn shapes overlap. A rotated label's box is not its shape, so each
# label is sampled along its baseline (start, middle, end) and those points compared.
LABELS_OVERLAP = """(selector) => {
  const svg = document.querySelector(selector);
  const texts = [...svg.querySelectorAll('text')];
  const points = texts.map((t) => {
    const n = t.getNumberOfChars();
    if (!n) return [];
    const matrix = t.getCTM();
    return [0, Math.floor(n / 2), n - 1].map((i) => {
      const box = t.getExtentOfChar(i);
      const p = new DOMPoint(box.x + box.width / 2, box.y + box.height / 2).matrixTransform(matrix);
      return {x: p.x, y: p.y, r: box.height / 2.5};
    });
  });
  const clash = [];
  for (let a = 0; a < texts.length; a++) {
    for (let b = a + 1; b < texts.length; b++) {
      for (const p of points[a]) for (const q of points[b]) {
        if (Math.hypot(p.x - q.x, p.y - q.y) < p.r + q.r) clash.push([texts[a].textContent, texts[b].textContent]);
      }
    }
  }
  return clash.slice(0, 5);
}"""


@pytest.mark.parametrize(("width", "language"), SIZES)
def test_the_figures_draw_readable_bars_in_both_languages(
    page, live_server, demo_network, width, language
):
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    in_language(page, live_server, language)
    page.goto(live_server.url + "/beheer/cijfers/")
    bars = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart rect')]
             .filter((r) => r.getBoundingClientRect().width > 0).length"""
    )
    assert bars > 3
    for chart in ["#status-chart-title", "#figure-chart-title"]:
        seen = page.evaluate(SHAPES_INSIDE, f"svg.chart:has({chart})")
        labels, labels_inside = seen["labels"]
        assert labels > 3
        assert labels_inside == labels, seen
        assert seen["width"] >= 280, seen  # not a thumbnail
    text = page.evaluate(TEXT_SIZES, "svg.chart")
    assert text["smallest"] >= 11, text
    # The numbers stand beside the bars: each bar has its number's text just right of it.
    beside = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart rect')].every((r) => {
             const box = r.getBoundingClientRect();
             return [...r.ownerSVGElement.querySelectorAll('text')].some((t) => {
               const tb = t.getBoundingClientRect();
               return tb.left >= box.right && tb.left - box.right < 12
                 && tb.top < box.bottom && tb.bottom > box.top;
             });
           })"""
    )
    assert beside
    # No card cuts its content off, and the page does not scroll sideways.
    cut = page.evaluate(
        """() => [...document.querySelectorAll('main .card, main .card .table-scroll')]
             .filter((c) => c.scrollWidth > c.clientWidth + 1).length"""
    )
    assert cut == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page)
