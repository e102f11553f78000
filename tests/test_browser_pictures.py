"""The pictures of the bureau's pages, read in Chromium in both languages: the shapes must be
drawn (numbers in SVG never go through localisation: a Dutch decimal comma draws nothing)."""

import pytest
from django.conf import settings

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


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_network_picture_draws_its_dots_and_lines_in_both_languages(
    page, live_server, demo_network, language
):
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
    assert labels_inside == labels, seen
    # Labels are spread over the drawing, not piled in the top-left corner.
    corners = page.evaluate(
        """() => [...document.querySelectorAll('.network-picture svg text')]
             .filter((t) => t.x.baseVal.length && t.x.baseVal[0].value < 1
                         && t.y.baseVal[0].value < 1).length"""
    )
    assert corners == 0
    assert_accessible(page)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_figures_draw_their_bars_in_both_languages(page, live_server, demo_network, language):
    log_in(page, live_server, "bureau@kwaliteitsnetwerk.example")
    in_language(page, live_server, language)
    page.goto(live_server.url + "/beheer/cijfers/")
    bars = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart rect')]
             .filter((r) => r.getBoundingClientRect().width > 0).length"""
    )
    assert bars > 3
    assert_accessible(page)
