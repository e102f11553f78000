from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from coalitions.models import Coalition
from members.access import person_of


def navigation(request):
    """The main navigation: each role sees what it can use (the views check again). Built only
    when a template shows it: an HTMX answer (a fragment) does not."""
    return {"nav_items": SimpleLazyObject(lambda: _navigation(request))}


def _navigation(request) -> list[dict]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    items = [
        ("home", reverse("home"), _("Overview")),
        ("coalitions", reverse("coalitions:list"), _("Coalitions")),
        ("sessions", reverse("events:list"), _("Sessions")),
        ("rounds", reverse("coalitions:rounds"), _("Themes and recruitment")),
    ]
    if Coalition.objects.taken_part_in_by(person_of(request)).exists():
        items.append(("my_coalitions", reverse("coalitions:list") + "?mine=1", _("My coalitions")))
    person = person_of(request)
    if person is not None:
        items.append(("my_registrations", reverse("my_registrations"), _("My sign-ups")))
    # Bureau staff see their links also before they set up a second factor: the pages then
    # send them to set it up (members.access.bureau_required).
    if person is not None and person.is_bureau_staff:
        items.append(("institutions", reverse("members:institution_list"), _("Institutions")))
        items.append(("bureau", reverse("bureau_dashboard"), _("Administration")))
    full_path = request.get_full_path()
    # The most specific link that matches the current page is marked current.
    matches = [
        url
        for _key, url, _label in items
        if full_path == url or (url != "/" and full_path.startswith(url))
    ]
    current = max(matches, key=len) if matches else None
    return [
        {"key": key, "url": url, "label": label, "current": url == current}
        for key, url, label in items
    ]
