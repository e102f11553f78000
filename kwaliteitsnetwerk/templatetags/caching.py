"""{% cached "name" key more… %}…{% endcached %}: a fragment kept in the `fragments` cache under
a key built from the versions of what it shows (kwaliteitsnetwerk.caching), with more parts when
another app supplies some (the attendance on a ring board). An empty first key renders the block
without keeping it (a form with what someone typed)."""

import contextlib
import secrets

from django import template
from django.utils.safestring import mark_safe

from kwaliteitsnetwerk import caching

register = template.Library()


class CachedNode(template.Node):
    def __init__(self, nodelist, name, keys):
        self.nodelist, self.name, self.keys = nodelist, name, keys

    def render(self, context):
        keys = [key.resolve(context) for key in self.keys]
        if not keys[0]:
            return self.nodelist.render(context)
        name = ":".join([str(self.name.resolve(context)), *(str(key) for key in keys)])
        try:
            found = caching.cache().get(name)
        except Exception:  # noqa: BLE001 - the cache is an optimisation: render without it
            caching.logger.warning("The cache does not answer: %s not kept", name, exc_info=True)
            return self.nodelist.render(context)
        if found is None:
            # What `{% csrf_token %}` writes inside: a mark made for this rendering, kept with
            # it, that each response replaces with its own token. Random, so text that people
            # write (a link, a motivation) can never contain it and receive someone's token.
            mark = secrets.token_hex(16)
            with context.push(csrf_token=mark):
                found = (mark, self.nodelist.render(context))
            with contextlib.suppress(Exception):
                caching.cache().set(name, found)
        mark, html = found
        if mark in html:
            html = html.replace(mark, str(context.get("csrf_token", "")))
        return mark_safe(html)  # noqa: S308 - rendered by our own templates, escaped there


@register.tag
def cached(parser, token):
    """{% cached "name" key more… %}…{% endcached %}"""
    bits = token.split_contents()
    if len(bits) < 3:
        raise template.TemplateSyntaxError(f"{bits[0]} needs a name and a key.")
    nodelist = parser.parse(("endcached",))
    parser.delete_first_token()
    return CachedNode(
        nodelist, parser.compile_filter(bits[1]), [parser.compile_filter(b) for b in bits[2:]]
    )
