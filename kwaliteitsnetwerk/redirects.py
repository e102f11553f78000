"""Where a `next` parameter may send someone: the one rule every return link asks.

Only a local address of this site (a path, or an absolute address on the host of the request,
HTTPS when the request is) is followed; anything else (`//evil.example`, `https://evil.example`,
`javascript:`) falls back to a default page of ours, never an error."""

from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def is_safe_next(request: HttpRequest, url: str | None) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def safe_next(request: HttpRequest, url: str | None, default: str = "home") -> str:
    """`url` when it is a safe local address, otherwise the default (a URL name or a path)."""
    return url if url and is_safe_next(request, url) else resolve_url(default)
