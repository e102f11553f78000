"""Helpers for long lists, shared by the apps' views."""

from django.urls import reverse


def url_pattern(name: str) -> str:
    """The URL of `name` for any one id, as "…/{}/…" to format per row: a reverse per row (and
    per form in it) was up to 40% of rendering a long list."""
    return reverse(name, args=[0]).replace("/0/", "/{}/")
