"""Session data for pages of the coalitions app (which may not import events itself)."""

from django import template

from events.models import Session

register = template.Library()


@register.inclusion_tag("events/includes/coalition_sessions.html")
def coalition_sessions(coalition):
    sessions = (
        Session.objects.published()
        .upcoming()
        .filter(coalitions=coalition)
        .select_related("host_institution")[:5]
    )
    return {"sessions": sessions, "coalition": coalition}
