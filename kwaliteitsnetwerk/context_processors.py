from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from coalitions.models import Coalition
from members.access import is_bureau, person_of


def navigation(request):
    """The main navigation: each role sees what it can use (the views check again)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [
        ("home", reverse("home"), _("Overview")),
        ("coalitions", reverse("coalitions:list"), _("Coalitions")),
        ("sessions", reverse("events:list"), _("Sessions")),
    ]
    if Coalition.objects.involving(person_of(request)).exists():
        items.append(("my_coalitions", reverse("coalitions:list") + "?mine=1", _("My coalitions")))
    if is_bureau(request):
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
    return {
        "nav_items": [
            {"key": key, "url": url, "label": label, "current": url == current}
            for key, url, label in items
        ]
    }
