"""The login limit per account: a growing delay, never a lock-out (issue 24, docs/security.md).

allauth's limit per account ("5 failures in 5 minutes") let anyone who knew an address lock its
owner out for five minutes from rotating addresses, at the password and at the code step. Here
an account (the normalised address typed at the password step, the account at the code step)
has FREE_FAILURES attempts; after that each further attempt must wait 2, 4, 8, 16, then at most
MAX_WAIT seconds after the last failure. An attempt made during the wait is refused without
looking at the password or code and counts for nothing, so guesses can never push the wait
beyond MAX_WAIT. The count is forgotten FORGET_AFTER after the last failure and on a success.

A browser that logged in to the account before carries a signed cookie naming it (KNOWN_COOKIE):
its attempts are counted on their own, so the owner on their own device is never slowed by
someone else's guesses, only by their own. The count lives in the shared cache (Redis in
production), so it holds across processes.
"""

import math
import secrets
import time

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.utils.translation import gettext as _

FREE_FAILURES = 5
MAX_WAIT = 30  # seconds
FORGET_AFTER = 15 * 60  # seconds after the last failure
KNOWN_COOKIE = "kn_known_login"
KNOWN_FOR = 365 * 24 * 3600
_SALT = "members.login_delay.known"


class TooSoon(Exception):
    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds

    @property
    def message(self) -> str:
        return _(
            "Too many failed attempts for this account. Wait %(seconds)s seconds and try again."
        ) % {"seconds": self.seconds}


def _known_device(request, account: str) -> str:
    """The device's own mark when this browser logged in to `account` before, else ''."""
    try:
        data = signing.loads(request.COOKIES.get(KNOWN_COOKIE, ""), salt=_SALT)
    except signing.BadSignature:
        return ""
    return data.get("n", "") if data.get("e") == account else ""


def _key(request, step: str, account: str) -> str:
    device = _known_device(request, account)
    return f"login-delay:{step}:{account}" + (f":{device}" if device else "")


def wait(failures: int) -> int:
    """Seconds an attempt must wait after the last of `failures` failures."""
    if failures < FREE_FAILURES:
        return 0
    return min(2 ** (failures - FREE_FAILURES + 1), MAX_WAIT)


def check(request, step: str, account: str) -> None:
    """Raise TooSoon when this account's next attempt has to wait."""
    state = cache.get(_key(request, step, account))
    if not state:
        return
    left = state["last"] + wait(state["n"]) - time.time()
    if left > 0:
        raise TooSoon(math.ceil(left))


def failed(request, step: str, account: str) -> None:
    key = _key(request, step, account)
    state = cache.get(key) or {"n": 0}
    cache.set(key, {"n": state["n"] + 1, "last": time.time()}, FORGET_AFTER)


def succeeded(request, step: str, account: str) -> None:
    cache.delete(_key(request, step, account))


def remember_device(response, account: str) -> None:
    """After a login: this browser is known to the account from now on."""
    value = signing.dumps({"e": account, "n": secrets.token_urlsafe(12)}, salt=_SALT)
    response.set_cookie(
        KNOWN_COOKIE,
        value,
        max_age=KNOWN_FOR,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )
