"""{% kept "name" "areas" vary… %}…{% endkept %}: a fragment rendered once and kept until the
data of its areas changes (members.fragments)."""

from django import template
from django.conf import settings
from django.core.cache import cache
from django.utils.safestring import mark_safe

from members import fragments

register = template.Library()

# What `{% csrf_token %}` writes inside a kept fragment; each response puts its own token there.
CSRF_MARK = "kn-csrf-token-of-this-response"


class KeptNode(template.Node):
    def __init__(self, nodelist, name, areas, vary):
        self.nodelist, self.name, self.areas, self.vary = nodelist, name, areas, vary

    def render(self, context):
        name = self.name.resolve(context)
        if not name:  # an empty name: not kept this time (a form with what someone typed)
            return self.nodelist.render(context)
        key = fragments.key_for(
            name,
            self.areas.resolve(context).split(),
            [value.resolve(context) for value in self.vary],
        )
        html = cache.get(key)
        if html is None:
            with context.push(csrf_token=CSRF_MARK):
                html = self.nodelist.render(context)
            cache.set(key, html, settings.FRAGMENTS_KEPT)
        if CSRF_MARK in html:
            html = html.replace(CSRF_MARK, str(context.get("csrf_token", "")))
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
