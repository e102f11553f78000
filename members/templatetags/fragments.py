"""{% kept "name" "areas" vary… %}…{% endkept %}: a fragment rendered once and kept until the
data of its areas changes (members.fragments)."""

import contextlib
import secrets

from django import template
from django.conf import settings
from django.core.cache import cache
from django.utils.safestring import mark_safe

from members import fragments

register = template.Library()


class KeptNode(template.Node):
    def __init__(self, nodelist, name, areas, vary):
        self.nodelist, self.name, self.areas, self.vary = nodelist, name, areas, vary

    def render(self, context):
        name = self.name.resolve(context)
        if not name:  # an empty name: not kept this time (a form with what someone typed)
            return self.nodelist.render(context)
        try:
            key = fragments.key_for(
                name,
                self.areas.resolve(context).split(),
                [value.resolve(context) for value in self.vary],
            )
            found = cache.get(key)
        except Exception:  # noqa: BLE001 - no cache that answers: render without keeping
            fragments.logger.warning("The cache does not answer: %s not kept", name, exc_info=True)
            return self.nodelist.render(context)
        if found is None:
            # What `{% csrf_token %}` writes inside: a mark made for this rendering, kept with
            # it, that each response replaces with its own token. Random, so text that people
            # write (a link, a motivation) can never contain it and receive someone's token.
            mark = secrets.token_hex(16)
            with context.push(csrf_token=mark):
                found = (mark, self.nodelist.render(context))
            with contextlib.suppress(Exception):
                cache.set(key, found, settings.FRAGMENTS_KEPT)
        mark, html = found
        if mark in html:
            html = html.replace(mark, str(context.get("csrf_token", "")))
        return mark_safe(html)


@register.tag
def kept(parser, token):
    """{% kept "name" "areas separated by spaces" vary1 vary2 … %}…{% endkept %}; a name that
    is empty renders the block without keeping it."""
    bits = token.split_contents()
    if len(bits) < 3:
        raise template.TemplateSyntaxError(f"{bits[0]} needs a name and its areas.")
    nodelist = parser.parse(("endkept",))
    parser.delete_first_token()
    name, areas, *vary = (parser.compile_filter(bit) for bit in bits[1:])
    return KeptNode(nodelist, name, areas, vary)
