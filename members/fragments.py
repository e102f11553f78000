"""What is the same for everyone, rendered once and kept until the data under it changes.

One counter per area of data (each app's models, sign-ups, the activity log, and each
person's own sign-ups), kept in the cache (Redis in production, shared by every worker
process). Any save, delete or change of a many-to-many relation of a model in an area moves
its counter on (`changed`): outside a transaction at once, inside one when it commits — a page
rendered before the commit with the old data is kept under a counter nobody reads any more —
and before the same transaction reads a counter, so it sees its own change. A kept fragment's
key holds the code's release, the counters of the areas it shows, the language, the date and
what it varies on, so it is never read after a change; it is also dropped after FRAGMENTS_KEPT
seconds, for what only the clock changes (a session that began) and for what changes without a
signal (a queryset `.update()`, a raw edit; services save the rows they change).

Used as `{% kept "name" "areas" vary… %}…{% endkept %}` (members.templatetags.fragments) for
HTML, `kept_value(...)` for data (the bureau's signals, a person's overview and invitations),
and `lazily(...)` for a view's context that only a missing fragment reads.

Not kept: what differs per person (their sign-up, their rights) — that stays outside the
fragment, is one of its vary values, or is kept per person — and CSRF tokens: `{% csrf_token %}`
inside a kept fragment writes a placeholder that each response replaces with its own token.

Limit: a page rendered inside a transaction that changed something and then rolls back keeps
what it showed until the area changes again or FRAGMENTS_KEPT passes (views do not render
inside their services' transactions)."""

import contextlib
import contextvars
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone, translation

logger = logging.getLogger(__name__)

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
QUIET = {
    "members.notification",
    "members.retentionhold",
    "events.calendarfeed",
    # The theme rounds (proposals, votes, comments, interest) are on pages that are not kept:
    # a vote must not throw away every kept coalition page in a busy round.
    "coalitions.themeround",
    "coalitions.proposal",
    "coalitions.support",
    "coalitions.proposalcomment",
    "coalitions.interest",
}


def _key(area: str) -> str:
    return f"fresh:{area}"


COUNTER_KEPT = 30 * 24 * 3600  # a counter nobody moved for a month starts again from the clock


def changed(*areas: str) -> None:
    """Move the counters of `areas` on: outside a transaction at once; inside one when it
    commits (once, for all the areas it changed), and before anything in the same transaction
    reads a counter (so a page rendered after a change in its own transaction shows it)."""
    _forget_read()
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _bump(areas)
        return
    pending = _pending(connection)
    if pending is None:
        pending = _Pending()
        connection._kn_fresh_pending = pending
        transaction.on_commit(pending)
    pending.areas.update(areas)
    pending.unread.update(areas)


def _pending(connection):
    """This transaction's changed areas, if any (a rollback drops them with the transaction)."""
    pending = connection.__dict__.get("_kn_fresh_pending")
    if pending is not None and any(f is pending for _s, f, _r in connection.run_on_commit):
        return pending
    return None


class _Pending:
    def __init__(self):
        self.areas: set[str] = set()
        self.unread: set[str] = set()

    def __call__(self):
        _bump(self.areas)


def _bump(areas: Iterable[str]) -> None:
    """One round trip to Redis for all the areas. A counter that is not there (first use,
    evicted, expired) starts from the clock, so a number once used is never used again for
    other data. A cache that does not answer is logged, never fatal: the change is saved, and
    what was kept shows it within FRAGMENTS_KEPT."""
    try:
        _bump_now(areas)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the change is saved
        logger.warning(
            "Could not move the kept fragments' counters %s", sorted(areas), exc_info=True
        )


def _bump_now(areas: Iterable[str]) -> None:
    keys = [cache.make_and_validate_key(_key(area)) for area in sorted(areas)]
    start = time.time_ns() // 1000
    client = getattr(cache, "_cache", None)
    if hasattr(client, "get_client"):  # Django's RedisCache
        with client.get_client(write=True).pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(key, start, nx=True, ex=COUNTER_KEPT)
                pipe.incr(key)
                pipe.expire(key, COUNTER_KEPT)
            pipe.execute()
        return
    for area in sorted(areas):  # another cache (in memory: one process)
        cache.add(_key(area), start, timeout=COUNTER_KEPT)
        try:
            cache.incr(_key(area))
        except ValueError:  # gone in between
            cache.add(_key(area), start + 1, timeout=COUNTER_KEPT)


# Within one request the counters are read once (all areas in one round trip) and kept until
# the request changes something itself: ReadCountersOnce sets this per request. Outside a
# request (tasks, commands) every read asks the cache.
_read_in_request: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "kn_fresh_read", default=None
)


def versions(areas: Iterable[str]) -> str:
    """The counters of `areas` (AREAS, or one person's: person_area), one cache round trip."""
    areas = sorted(areas)
    unknown = {area for area in areas if area not in AREAS and not area.startswith("person:")}
    if unknown:
        raise ValueError(f"Unknown areas {unknown!r}; choose from {AREAS!r}.")
    connection = transaction.get_connection()
    pending = _pending(connection) if connection.in_atomic_block else None
    if pending is not None and pending.unread:
        _bump(pending.unread)  # changed earlier in this transaction: read after the change
        pending.unread.clear()
        _forget_read()
    read = _read_in_request.get()
    if read is not None and all(area in read for area in areas):
        return ".".join(read[area] for area in areas)
    wanted = sorted(set(areas) | (set(AREAS) if read is not None else set()))
    found = cache.get_many([_key(area) for area in wanted])
    missing = [area for area in wanted if _key(area) not in found]
    if missing:
        _bump(missing)
        found = cache.get_many([_key(area) for area in wanted])
    values = {area: str(found.get(_key(area), 0)) for area in wanted}
    if read is not None:
        read.update(values)
    return ".".join(values[area] for area in areas)


def _forget_read() -> None:
    read = _read_in_request.get()
    if read is not None:
        read.clear()


class ReadCountersOnce:
    """Middleware: a request reads the counters once, not once per kept fragment."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _read_in_request.set({})
        try:
            # Before the view loads anything: a change committed while it renders then moves
            # the counters past what it keeps, instead of keeping old data under new counters.
            with contextlib.suppress(Exception):  # no cache: pages render without keeping
                versions(AREAS)
            return self.get_response(request)
        finally:
            _read_in_request.reset(token)


@functools.cache
def release() -> str:
    """What tells this code apart from the code of an earlier deploy (which may have kept a
    fragment of another shape in the same cache): the sizes and times of the application's
    Python files, templates and translations, read once per process."""
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for folder in ("kwaliteitsnetwerk", "members", "coalitions", "events", "templates", "locale"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".py", ".html", ".mo"):
                stat = path.stat()
                digest.update(
                    f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
                )
    return digest.hexdigest()[:12]


def key_for(name: str, areas: Iterable[str], vary: Iterable = ()) -> str:
    """The cache key of a fragment: its name, the code's release, the areas' counters, the
    language, today, and what it varies on."""
    parts = [
        release(),
        versions(areas),
        translation.get_language() or "",
        timezone.localdate().isoformat(),
        *(str(value) for value in vary),
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"kept:{name}:{digest}"


def kept_value(name: str, areas: Iterable[str], vary: Iterable, compute: Callable):
    """`compute()`, or what it gave before while nothing in `areas` changed. Without a cache
    that answers, computed each time."""
    try:
        key = key_for(name, areas, vary)
        found = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation
        logger.warning(
            "The cache does not answer: %s computed without keeping", name, exc_info=True
        )
        return compute()
    if found is None:
        found = compute()
        with contextlib.suppress(Exception):
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
    if set(kwargs.get("update_fields") or ()) == {"last_login"}:
        return  # a login is no one's page content
    areas = [AREA_OF.get(label) or meta.app_label]
    if areas[0] not in AREAS:
        return
    person_id = _whose(kwargs.get("instance"), label)
    if person_id is not None:
        areas.append(person_area(person_id))
    changed(*areas)


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
    """Only the models of the areas send: a receiver for every model would turn off Django's
    fast delete for the outbox and everything else."""
    from django.apps import apps
    from django.db.models.signals import m2m_changed, post_delete, post_save

    for model in apps.get_models():
        meta = model._meta
        if (
            meta.label_lower in QUIET
            or (AREA_OF.get(meta.label_lower) or meta.app_label) not in AREAS
        ):
            continue
        uid = f"members.fragments.{meta.label_lower}"
        post_save.connect(model_changed, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(model_changed, sender=model, dispatch_uid=f"{uid}.delete")
        for field in meta.local_many_to_many:
            m2m_changed.connect(
                model_changed, sender=field.remote_field.through, dispatch_uid=f"{uid}.{field.name}"
            )
