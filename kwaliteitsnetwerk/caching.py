"""Cached fragments, keyed by the versions of what they show (pretix's habit).

A coalition, a session and a person each carry a `version` that moves on with every change
to them, in the change's own transaction: `members.activity.log` — the one door every
service already passes to record who did what — moves the version of the object it logs and
of its scope (a membership's coalition, a registration's session). A fragment's key is built
by the view from those versions (`versions_of` sums them over the objects shown), the
language and the day, plus what the access rule itself answers for this person; the code's
release is the cache's key prefix. So a key is never read again after a change, a rollback
takes its version back, and there is nothing to clear: old entries simply expire.

`{% cached "name" key %}…{% endcached %}` (kwaliteitsnetwerk/templatetags/caching.py) keeps
HTML, `cached_value` data; `lazily` hands a view's context to a template so that a cached fragment reads none of
it. The cache alias is `fragments`: `CACHE_FRAGMENTS=0` makes it a dummy, which turns all
fragment caching off (to compare, and in the test that proves a cached page equals a fresh
one). A cache that does not answer renders without keeping."""

import functools
import hashlib
import logging
from collections.abc import Callable, Iterable

from django.core.cache import caches
from django.db.models import Count, Max, QuerySet, Subquery, Sum, Value
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject

logger = logging.getLogger(__name__)

ALIAS = "fragments"


def cache():
    return caches[ALIAS]


def versions_of(queryset: QuerySet) -> str:
    """What tells every state of these rows apart, in one aggregate query: how many there are,
    the highest key and the sum of their versions (each row's version only grows, so the sum
    moves with any change to any of them; a row added or taken away moves the count or the
    highest key)."""
    found = queryset.order_by().aggregate(n=Count("pk"), top=Max("pk"), sum=Sum("version"))
    return f"{found['n']}.{found['top'] or 0}.{found['sum'] or 0}"


def versions_through(obj, **sums: tuple[QuerySet, str]) -> str:
    """The versions of the rows that `obj`'s pages show through others, in one query: for each
    name a queryset (its members, its registrations, its log) and the relation whose version
    is summed (`person__version`). Each related row's version only grows, so any change to one
    moves its sum; which rows are related is `obj`'s own version (a membership or sign-up is a
    logged change of it). Driven from the related rows, so it reads those few, not every
    person."""
    model = type(obj)
    found = (
        model._base_manager.filter(pk=obj.pk)
        .annotate(
            **{
                f"versions_{name}": Subquery(
                    queryset.order_by()
                    .annotate(_all=Value(1))
                    .values("_all")
                    .annotate(total=Sum(field))
                    .values("total")
                )
                for name, (queryset, field) in sums.items()
            }
        )
        .values_list(*(f"versions_{name}" for name in sums))
        .first()
    )
    return ".".join(str(value or 0) for value in found or ())


def key(name: str, *parts: object) -> str:
    """A fragment's key: its name, the versions and whatever else it varies on, the language
    and the day (what only the clock changes is never inside a cached fragment, but dates are
    shown relative to today in places)."""
    text = "\x1f".join(
        [translation.get_language() or "", timezone.localdate().isoformat()]
        + [str(part) for part in parts]
    )
    return f"{name}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def cached_value(key: str, compute: Callable):
    """`compute()`, or what it gave before under the same key (built by `key` from versions).
    A cache that does not answer: computed each time."""
    try:
        found = cache().get(key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation
        logger.warning("The cache does not answer: %s computed", key, exc_info=True)
        return compute()
    if found is None:
        found = compute()
        try:
            cache().set(key, found)
        except Exception:  # noqa: BLE001
            logger.warning("The cache does not answer: %s not kept", key, exc_info=True)
    return found


def lazily(build: Callable[[], dict], names: Iterable[str]) -> dict:
    """Context values computed only when a template reads one of them (one `build()` for all):
    a view hands these to a template whose cached fragment, when there, reads none of them."""
    built = functools.cache(build)
    return {name: SimpleLazyObject(lambda name=name: built()[name]) for name in names}
