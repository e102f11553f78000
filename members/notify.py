"""The outbox's one door: every message of the application is queued here, sent by members.tasks.

Each app names its kinds of message once (`register_kinds`, at import of its services module):
the templates that write it, whether a person may turn it off, whether it is opt-in. A message
is rendered when it is queued, in the person's language, as plain text and HTML from
`templates/<app>/email/<kind>{_subject.txt,.txt,.html}` (the HTML falls back to the text in the
common frame, `templates/email/base.html`), and stored in members.Notification, unique per
kind, person and occasion: whatever runs twice, a message exists once. A kind with a `compose`
function may be queued unwritten (`queue_unwritten`: one insert in the change's transaction, no
rendering under its locks) and is written by the sender just before it goes out.

The row is the message (a transactional outbox): it commits with the change or not at all.
After the commit the broker is nudged to send soon; a broker that does not answer costs the
request nothing (logged), and the next sweep sends the row.

Scheduled messages come from rules (`register_rule`): functions of the moment that queue
whatever has become due, run by every sweep (members.tasks.sweep, the beat, or
`manage.py send_reminders`). A rule asks "what is due by now?", never "what is due this
minute?", so a missed hour of sweeps is caught up, and the unique row keeps it once.
"""

import contextlib
import contextvars
import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.template import Context
from django.template.loader import get_template, select_template
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import override, pgettext

from .models import MailPreference, Notification, Person

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """A kind of message. `mandatory`: a person cannot do without it (no unsubscribe);
    `default`: sent unless turned off (True) or only to who opted in (False); `secret`: its
    text holds a link that opens something (an invitation), blanked once sent, never resent."""

    name: str
    label: Promise
    help: Promise | str = ""
    template: str = ""
    mandatory: bool = False
    default: bool = True
    secret: bool = False
    names_others: bool = False  # its text may name other people (erasure looks there)
    # For rows queued unwritten: (row) → the Message to write it from, or None when there is
    # nothing to say any more (the sign-up was cancelled before its confirmation went out).
    compose: Callable[[Notification], "Message | None"] | None = None
    # Who it can reach at all, as a filter on Person (None: anyone): the rule the code that
    # sends it chooses its people by (leads, ambassadors). A choice is offered only to them.
    audience: Callable[[], Q] | None = None

    @property
    def templates(self) -> str:
        return self.template or f"members/email/{self.name}"


KINDS: dict[str, Kind] = {}
RULES: dict[str, Callable[[dt.datetime], int]] = {}


class _KindLabels:
    """Lets the activity log show a kind by its label (it reads it like a Choices enum)."""

    @property
    def values(self):
        return KINDS.keys()

    def __call__(self, name: str) -> Kind:
        return KINDS[name]


KIND_LABELS = _KindLabels()


def register_kinds(*kinds: Kind) -> None:
    for kind in kinds:
        KINDS[kind.name] = kind


def register_rule(name: str):
    """Decorator: a function of the moment that queues what has become due (returns how many)."""

    def decorate(func):
        RULES[name] = func
        return func

    return decorate


def forget(person: Person, about_them: Q) -> None:
    """Erasure: messages to others that are about this person (`about_them`, by occasion) or
    name them (kinds that list people) lose their text once sent, and are not sent at all
    while they wait (a blank mail must never go out)."""
    naming = [kind.name for kind in KINDS.values() if kind.names_others]
    if person.full_name.strip():
        about_them |= Q(kind__in=naming, body__contains=person.full_name)
    rows = Notification.objects.exclude(person=person).filter(about_them)
    rows.exclude(status=Notification.Status.SENT).delete()
    rows.update(subject="", body="", html="", attachment="")


def optional_kinds(person: Person | None = None) -> list[Kind]:
    """The kinds one may turn off; for a person, only those that can ever reach them (a member
    is not asked about the leads' messages). One query for all the audiences."""
    kinds = [kind for kind in KINDS.values() if not kind.mandatory]
    if person is None:
        return kinds
    narrowed = {kind.name: kind.audience() for kind in kinds if kind.audience is not None}
    if not narrowed:
        return kinds
    reaches = (
        Person.objects.filter(pk=person.pk)
        .values(
            **{
                f"k_{n}": ExpressionWrapper(q, output_field=BooleanField())
                for n, q in enumerate(narrowed.values())
            }
        )
        .first()
        or {}
    )
    reached = {name for n, name in enumerate(narrowed) if reaches.get(f"k_{n}")}
    return [kind for kind in kinds if kind.name not in narrowed or kind.name in reached]


# Who wants what ---------------------------------------------------------------------------------


def wanting(kind: str) -> Q:
    """A filter on Person: the people who get this kind of message."""
    spec = KINDS[kind]
    if spec.mandatory:
        return Q()
    choice = MailPreference.objects.filter(person=OuterRef("pk"), kind=kind)
    if spec.default:
        return ~Exists(choice.filter(wanted=False))
    return Exists(choice.filter(wanted=True))


def wants(person: Person, kind: str) -> bool:
    spec = KINDS[kind]
    if spec.mandatory:
        return True
    choice = (
        MailPreference.objects.filter(person=person, kind=kind)
        .values_list("wanted", flat=True)
        .first()
    )
    return spec.default if choice is None else choice


def preferences(person: Person) -> dict[str, bool]:
    """Every optional kind → whether this person gets it."""
    chosen = dict(MailPreference.objects.filter(person=person).values_list("kind", "wanted"))
    return {kind.name: chosen.get(kind.name, kind.default) for kind in optional_kinds()}


_SIGNER = signing.Signer(salt="members.notify.unsubscribe")


def unsubscribe_token(person_id: int, kind: str) -> str:
    return _SIGNER.sign_object([person_id, kind])


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(person id, kind), or signing.BadSignature."""
    try:
        person_id, kind = _SIGNER.unsign_object(token)
    except (ValueError, TypeError) as exc:
        raise signing.BadSignature(str(exc)) from exc
    if kind not in KINDS or KINDS[kind].mandatory:
        raise signing.BadSignature("no such kind")
    return int(person_id), kind


def unsubscribe_url(person_id: int, kind: str) -> str:
    """The one-click link (RFC 8058) for an optional kind; empty for a mandatory one."""
    if KINDS[kind].mandatory:
        return ""
    return settings.SITE_URL + reverse(
        "members:unsubscribe", args=[unsubscribe_token(person_id, kind)]
    )


# Writing ----------------------------------------------------------------------------------------


def when(start: dt.datetime, end: dt.datetime | None = None) -> str:
    """A moment as people write it: "do 9 oktober 2025, 13.00–16.30 uur" (in English "Thu 9
    October 2025, 13:00–16:30"), in the active language."""
    start = timezone.localtime(start)
    day = formats.date_format(start, "D j F Y")
    start_time = _time(start)
    if end is None:
        return _("%(day)s, %(start)s") % {"day": day, "start": start_time}
    end = timezone.localtime(end)
    if end.date() != start.date():
        return _("%(day)s, %(start)s to %(end_day)s, %(end)s") % {
            "day": day,
            "start": start_time,
            "end_day": formats.date_format(end, "D j F Y"),
            "end": _time(end),
        }
    return _("%(day)s, %(start)s–%(end)s") % {
        "day": day,
        "start": start_time,
        "end": _time(end),
    }


def times(start: dt.datetime, end: dt.datetime) -> str:
    """The clock times of a part: "13.00–14.30"."""
    return f"{_time(timezone.localtime(start))}–{_time(timezone.localtime(end))}"


def _time(moment: dt.datetime) -> str:
    # Dutch writes 13.00, English 13:00 (the translation of the separator decides).
    separator = pgettext("time separator", ":")
    return f"{moment:%H}{separator}{moment:%M}"


def day(moment: dt.datetime | dt.date) -> str:
    """A date as people write it: "do 9 oktober 2025"."""
    if isinstance(moment, dt.datetime):
        moment = timezone.localtime(moment)
    return formats.date_format(moment, "D j F Y")


def render(kind: str, person: Person, context: dict, *, template: str = "") -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a message for this person, in their language."""
    spec = KINDS[kind]
    name = template or spec.templates
    with override(person.language):
        context = {
            "person": person,
            "kind": spec,
            "site_url": settings.SITE_URL,
            "preferences_url": settings.SITE_URL + reverse("members:my_account") + "#berichten",
            "unsubscribe_url": unsubscribe_url(person.pk, kind),
            **context,
        }
        subject = " ".join(_plain(f"{name}_subject.txt", context).split())
        text = _plain(f"{name}.txt", context)
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        html = select_template([f"{name}.html", "email/base.html"]).render(
            {**context, "subject": subject, "text": text}
        )
    return subject[:200], text, html


def _plain(name: str, context: dict) -> str:
    """A plain-text template, rendered without HTML escaping (an & stays an &)."""
    template = get_template(name).template
    return template.render(Context(context, autoescape=False))


@dataclass
class Message:
    """One message to queue: to whom, about what, with what to write it."""

    person: Person
    occasion: str
    context: dict = field(default_factory=dict)
    attachment_name: str = ""
    attachment: str = ""
    template: str = ""


def queue(
    kind: str,
    person: Person,
    occasion: str,
    context: dict | None = None,
    *,
    template: str = "",
    attachment_name: str = "",
    attachment: str = "",
) -> Notification | None:
    """Queue one message unless this person already has one for this kind and occasion (or
    turned this kind off, or was erased). Returns the new row, or None."""
    if person.erased_at is not None or not wants(person, kind):
        return None
    if Notification.objects.filter(kind=kind, person=person, occasion=occasion).exists():
        return None
    subject, text, html = render(kind, person, context or {}, template=template)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                kind=kind,
                person=person,
                occasion=occasion,
                subject=subject,
                body=text,
                html=html,
                attachment_name=attachment_name,
                attachment=attachment,
            )
    except IntegrityError:  # queued at the same moment by someone else: theirs goes out
        return None
    _send_after_commit([notification.pk])
    return notification


def queue_unwritten(kind: str, person: Person, occasion: str) -> None:
    """Queue one message of a kind that is written when it is sent (Kind.compose): one insert
    in the caller's transaction, nothing rendered, so a change that holds a lock (a sign-up
    under its session's row) stays short. Mandatory kinds only: who wants it is not asked."""
    if KINDS[kind].compose is None or not KINDS[kind].mandatory:
        raise ValueError(f"{kind} is not a mandatory kind written when sent")
    if person.erased_at is not None:
        return
    # The unique row keeps one when it exists already (ON CONFLICT DO NOTHING).
    Notification.objects.bulk_create(
        [Notification(kind=kind, person=person, occasion=occasion, written=False)],
        ignore_conflicts=True,
    )
    _send_after_commit(None, kind=kind, occasions=[occasion])


def write(row: Notification) -> bool:
    """Write an unwritten row just before it is sent (members.tasks.deliver): its kind's
    `compose` says what; False (and the row is gone) when there is nothing to say any more."""
    message = KINDS[row.kind].compose(row)
    if message is None:
        Notification.objects.filter(pk=row.pk).delete()
        return False
    row.subject, row.body, row.html = render(
        row.kind, row.person, message.context, template=message.template
    )
    row.attachment_name, row.attachment = message.attachment_name, message.attachment
    row.written = True
    row.save(update_fields=["subject", "body", "html", "attachment_name", "attachment", "written"])
    return True


def queue_many(kind: str, messages: Iterable[Message]) -> int:
    """Queue many messages of one kind at once (a sweep, publishing a session): a fixed number
    of queries whatever their number. Returns how many were new."""
    messages = [m for m in messages if m.person.erased_at is None]
    if not messages:
        return 0
    people = {m.person.pk for m in messages}
    if not KINDS[kind].mandatory:
        people = set(
            Person.objects.filter(wanting(kind), pk__in=people).values_list("pk", flat=True)
        )
    existing = set(
        Notification.objects.filter(
            kind=kind,
            person_id__in=people,
            occasion__in={m.occasion for m in messages},
        ).values_list("person_id", "occasion")
    )
    rows, seen = [], set()
    for m in messages:
        key = (m.person.pk, m.occasion)
        if m.person.pk not in people or key in existing or key in seen:
            continue
        seen.add(key)
        subject, text, html = render(kind, m.person, m.context, template=m.template)
        rows.append(
            Notification(
                kind=kind,
                person=m.person,
                occasion=m.occasion,
                subject=subject,
                body=text,
                html=html,
                attachment_name=m.attachment_name,
                attachment=m.attachment,
            )
        )
    # Two sweeps at once: the unique row keeps one; the other insert is skipped.
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    if rows:
        _send_after_commit(None, kind=kind, occasions=sorted({row.occasion for row in rows}))
    return len(rows)


# Set while a sweep runs its rules: it sends everything itself right after, so the rules'
# messages need no task of their own.
_SWEEPING = contextvars.ContextVar("members.notify.sweeping", default=False)


@contextlib.contextmanager
def sweeping():
    token = _SWEEPING.set(True)
    try:
        yield
    finally:
        _SWEEPING.reset(token)


def _send_after_commit(
    ids: list[int] | None, *, kind: str = "", occasions: list[str] | None = None
) -> None:
    if _SWEEPING.get():
        return
    transaction.on_commit(lambda: nudge(ids, kind=kind, occasions=occasions))


class _Broker:
    """This process's memory of a broker that did not answer: for a few seconds no request
    tries again (each try could cost a timeout), the sweep sends what waits meanwhile."""

    QUIET = 10.0  # seconds
    lock = threading.Lock()
    down_until = 0.0


def nudge(
    ids: list[int] | None = None, *, kind: str = "", occasions: list[str] | None = None
) -> bool:
    """Ask a worker to send these rows soon. Only a nudge: the rows are committed, so when the
    broker is unreachable the next sweep sends them; the caller's request goes on."""
    from .tasks import send_notifications

    if send_notifications.app.conf.task_always_eager:  # no broker: sent in-process
        send_notifications.delay(ids, kind=kind, occasions=occasions)
        return True
    if time.monotonic() < _Broker.down_until:
        return False
    try:
        send_notifications.apply_async((ids,), {"kind": kind, "occasions": occasions}, retry=False)
    except Exception as exc:  # noqa: BLE001 - whatever the broker says, the change is saved
        with _Broker.lock:
            _Broker.down_until = time.monotonic() + _Broker.QUIET
        logger.warning(
            "Broker unreachable (%s: %s); the outbox waits for the next sweep",
            type(exc).__name__,
            exc,
        )
        return False
    return True


def resend(notification: Notification, *, by: Person | None) -> Notification:
    """The bureau sends one message again (a failed one, or one someone lost)."""
    from . import activity

    if KINDS.get(notification.kind, Kind(notification.kind, "")).secret:
        raise ValueError(_("This message held a personal link; send a new invitation instead."))
    with transaction.atomic():
        # Notification.may_resend, asked again in the update itself: two clicks, one resend.
        again = Notification.objects.filter(
            pk=notification.pk, status__in=Notification.RESENDABLE
        ).update(
            status=Notification.Status.QUEUED,
            attempts=0,
            next_attempt_at=timezone.now(),
            claimed_at=None,
            sent_at=None,
            last_error="",
        )
        if not again:
            raise ValueError(_("This message is still on its way; it goes out once."))
        activity.log(
            "notification.resent",
            by=by,
            target=notification,
            person=notification.person,
            kind=notification.kind,
        )
        _send_after_commit([notification.pk])
    notification.refresh_from_db()
    return notification


def set_preferences(person: Person, wanted: dict[str, bool], *, by: Person | None) -> list[str]:
    """Change which optional kinds a person gets; mandatory kinds cannot be turned off.
    Returns the kinds that changed."""
    from . import activity

    current = preferences(person)
    changed = [
        kind for kind, value in wanted.items() if kind in current and current[kind] != bool(value)
    ]
    with transaction.atomic():
        for kind in changed:
            MailPreference.objects.update_or_create(
                person=person,
                kind=kind,
                defaults={"wanted": bool(wanted[kind]), "changed_at": timezone.now()},
            )
            activity.log(
                "mail.subscribed" if wanted[kind] else "mail.unsubscribed",
                by=by,
                target=person,
                person=person,
                kind=kind,
            )
    return changed
