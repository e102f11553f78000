"""The pictures of the bureau's pages, laid out on the server as numbers for SVG templates (no
JavaScript): horizontal bar charts with their numbers beside the bars, and the network as a
circle. Plain geometry, so the same data always gives the same picture.

Sizes are in the drawing's own units, and the templates draw them at that size in CSS pixels
(never scaled down past readability: a wide picture scrolls in its own box on a phone), so a
font size here is the size read on the screen."""

import math
from collections import defaultdict

FONT = 13  # the labels' size; nothing drawn is read smaller than 11 px
NUMBER_ROOM = 44  # beside the longest bar, for its number


def bar_chart(rows, *, width: int = 340, bar: int = 16) -> dict:
    """Horizontal bars for rows of (label, this year, year before): each label on its own line
    above its two bars, so a long label never squeezes the bars, and each bar's number beside
    it. 340 wide fits a phone's card; the same at any width."""
    biggest = max([max(a, b) for _label, a, b in rows] + [1])
    room = width - NUMBER_ROOM
    shapes, y = [], 0
    for label, this, last in rows:
        label_y = y + FONT
        this_y = label_y + 6
        last_y = this_y + bar + 2
        this_w = max(2, round(room * this / biggest)) if this else 0
        last_w = max(2, round(room * last / biggest)) if last else 0
        shapes.append(
            {
                "label": str(label),
                "label_y": label_y,
                "this": this,
                "last": last,
                "this_y": this_y,
                "last_y": last_y,
                "this_w": this_w,
                "last_w": last_w,
                "this_text_x": this_w + 6,
                "last_text_x": last_w + 6,
                # The number's baseline in the middle of its bar.
                "this_text_y": this_y + bar - 4,
                "last_text_y": last_y + bar - 4,
            }
        )
        y = last_y + bar + 14
    return {"width": width, "height": y, "bar": bar, "font": FONT, "shapes": shapes}


LABEL_CHARS = 26  # a longer name is shortened in the drawing (the whole name is its title)
LABEL_ROOM = 200  # outside the circle, for a label written outwards from its dot
SPACING = FONT + 5  # along the circle between two dots: their labels never touch


def circle(coalitions, institutions, links) -> dict:
    """Coalitions and institutions on one circle, each coalition followed by the institutions
    whose first coalition it is (so who works together sits together), lines (ties) across for
    taking part. Every label is written outwards along its radius, so labels cannot collide: the
    circle is made big enough that neighbouring dots are SPACING apart along it.

    `coalitions` and `institutions` are objects with `pk` and `name`, in the order to draw;
    `links` a set of (institution pk, coalition pk)."""
    order = {c.pk: n for n, c in enumerate(coalitions)}
    first: defaultdict[int, int] = defaultdict(lambda: len(coalitions))
    for institution_id, coalition_id in links:
        first[institution_id] = min(first[institution_id], order[coalition_id])
    following = defaultdict(list)
    for institution in sorted(institutions, key=lambda i: (first[i.pk], i.name)):
        following[first[institution.pk]].append(institution)
    sequence = []
    for n, coalition in enumerate(coalitions):
        sequence.append(("coalition", coalition))
        sequence.extend(("institution", i) for i in following[n])
    count = max(len(sequence), 1)
    radius = max(150, math.ceil(count * SPACING / (2 * math.pi)))
    centre = radius + LABEL_ROOM
    size = 2 * centre
    nodes = {}
    for n, (kind, item) in enumerate(sequence):
        angle = 2 * math.pi * n / count - math.pi / 2
        cos, sin = math.cos(angle), math.sin(angle)
        x, y = centre + radius * cos, centre + radius * sin
        # Written outwards: on the left half turned half a circle more, so it reads from left
        # to right and ends at its dot.
        degrees = math.degrees(angle)
        left = cos < -1e-9
        label = item.name if len(item.name) <= LABEL_CHARS else item.name[: LABEL_CHARS - 1] + "…"
        nodes[kind, item.pk] = {
            "kind": kind,
            "item": item,
            "name": item.name,
            "label": label,
            "x": round(x, 1),
            "y": round(y, 1),
            "label_x": round(centre + (radius + 12) * cos, 1),
            "label_y": round(centre + (radius + 12) * sin, 1),
            "rotate": round(degrees + 180 if left else degrees, 1),
            "anchor": "end" if left else "start",
        }
    ties = [
        {"institution": nodes["institution", i], "coalition": nodes["coalition", c]}
        for i, c in sorted(links, key=lambda link: (order[link[1]], link[0]))
    ]
    return {"width": size, "height": size, "nodes": list(nodes.values()), "ties": ties}
