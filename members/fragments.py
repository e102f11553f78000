"""What is the same for everyone, rendered once and kept until the data under it changes.

One counter per area of data (each app's models, and the activity log), kept in the cache
(Redis in production, shared by every worker process). Any save, delete or change of a
many-to-many relation of a model in an area moves its counter on (`changed`), at once and
again when the transaction commits: a page rendered in between with the old data is then kept
under a counter nobody reads any more. A kept fragment's key holds the counters of the areas
it shows, the language, the date and what it varies on, so it is never read after a change;
it is also dropped after FRAGMENTS_KEPT seconds, for what only the clock changes (a session
that began) and for the rare raw update that sends no signal.

Used as `{% kept "name" "areas" vary… %}…{% endkept %}` (members.templatetags.fragments) for
HTML, and `kept_value(...)` for data (the bureau's signals).

Not kept: what differs per person (their sign-up, their rights) — that stays outside the
fragment or is one of its vary values — and CSRF tokens: `{% csrf_token %}` inside a kept
fragment writes a placeholder that each response replaces with its own token."""

import hashlib
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone, translation

AREAS = ("members", "coalitions", "events", "registrations", "activity")
# Areas that are not an app: sign-ups change far more often than sessions and their programme,
# so what depends only on the programme (who is invited) is kept through a burst of sign-ups.
AREA_OF = {
    "events.registration": "registrations",
    "events.partchoice": "registrations",
    "members.action": "activity",
}
# Models whose rows are no one's page content (the outbox, retention holds, calendar tokens):
# a change to them moves no counter.
QUIET = {"members.notification", "members.retentionhold", "events.calendarfeed"}


def _key(area: str) -> str:
    return f"fresh:{area}"


def changed(*areas: str) -> None:
    """Move the counters of `areas` on, now and once more when the transaction commits."""
    for area in areas:
        _bump(area)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: [_bump(area) for area in areas])


def _bump(area: str) -> None:
    key = _key(area)
    try:
        cache.incr(key)
    except ValueError:
        # Not there (first use, or evicted): start from the clock, so a number once used is
        # never used again for other data.
        cache.add(key, time.time_ns() // 1000, timeout=None)
        cache.incr(key)


def versions(areas: Iterable[str]) -> str:
    """The counters of `areas` (AREAS, or one person's: person_area), one cache round trip."""
    areas = sorted(areas)
    unknown = {area for area in areas if area not in AREAS and not area.startswith("person:")}
    if unknown:
        raise ValueError(f"Unknown areas {unknown!r}; choose from {AREAS!r}.")
    found = cache.get_many([_key(area) for area in areas])
    missing = [area for area in areas if _key(area) not in found]
    for area in missing:
        _bump(area)
    if missing:
        found = cache.get_many([_key(area) for area in areas])
    return ".".join(str(found.get(_key(area), 0)) for area in areas)


def key_for(name: str, areas: Iterable[str], vary: Iterable = ()) -> str:
    """The cache key of a fragment: its name, the areas' counters, the language, today, and
    what it varies on."""
    parts = [
        versions(areas),
        translation.get_language() or "",
        timezone.localdate().isoformat(),
        *(str(value) for value in vary),
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"kept:{name}:{digest}"


def kept_value(name: str, areas: Iterable[str], vary: Iterable, compute: Callable):
    """`compute()`, or what it gave before while nothing in `areas` changed."""
    key = key_for(name, areas, vary)
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, settings.FRAGMENTS_KEPT)
    return found


def lazily(build: Callable[[], dict], names: Iterable[str]) -> dict:
    """Context values computed only when a template reads one of them (one `build()` for all):
    a view hands these to a template whose kept fragment, when there, reads none of them."""
    from functools import cache

    from django.utils.functional import SimpleLazyObject

    built = cache(build)
    return {name: SimpleLazyObject(lambda name=name: built()[name]) for name in names}


def model_changed(sender, **kwargs) -> None:
    """post_save, post_delete, m2m_changed: the area of the model moves on."""
    if kwargs.get("raw") or kwargs.get("action", "post_").startswith("pre_"):
        return  # loading fixtures; the "before" half of a many-to-many change
    meta = sender._meta
    label = meta.label_lower
    if label in QUIET:
        return
    if label in AREA_OF:
        changed(AREA_OF[label])
    elif meta.app_label in AREAS:
        changed(meta.app_label)
    person_id = _whose(kwargs.get("instance"), label)
    if person_id is not None:
        changed(person_area(person_id))


def person_area(person_id: int) -> str:
    """One person's own area: their sign-ups (their overview is kept under it)."""
    return f"person:{person_id}"


def _whose(instance, label: str) -> int | None:
    if label == "events.registration":
        return instance.person_id
    if label == "events.partchoice":
        try:
            return instance.registration.person_id  # loaded with it where choices are made
        except ObjectDoesNotExist:  # deleted with its registration, which moved it on
            return None
    return None


def connect() -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_save

    post_save.connect(model_changed, dispatch_uid="members.fragments.save")
    post_delete.connect(model_changed, dispatch_uid="members.fragments.delete")
    m2m_changed.connect(model_changed, dispatch_uid="members.fragments.m2m")
