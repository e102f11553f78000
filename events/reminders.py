"""What the sessions send on their own, each sweep (members.notify rules): the reminder before a
session, the nudge before the sign-up deadline, and the weekly digest. Each rule asks what is
due by now (a missed sweep is caught up) and the outbox's unique row keeps every message once."""

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy, override

from coalitions.models import Coalition, Output, RingMembership
from coalitions.services import leading
from members import notify
from members.models import Notification, Person

from .models import Registration, Session
from .services import keep_missing, mail_context, people_invited, still_invited

DEADLINE_NOTICE = dt.timedelta(days=3)
JUST_INVITED = dt.timedelta(days=2)
LONGEST_REMINDER = dt.timedelta(days=Session.MAX_REMINDER_DAYS)

notify.register_kinds(
    notify.Kind(
        "weekly_digest",
        gettext_lazy("Weekly digest"),
        gettext_lazy(
            "On Monday: new outputs you may see, sessions you have not answered, requests for leads."
        ),
        template="events/email/weekly_digest",
        default=False,
        names_others=True,
    ),
    notify.Kind(
        "ring_agreement",
        gettext_lazy("When you missed what your ring agreed"),
        gettext_lazy("After the last two sessions of your ring passed without you."),
        template="events/email/ring_agreement",
    ),
    notify.Kind(
        "ring_agreement_summary",
        gettext_lazy("Who keeps missing what their ring agreed (for leads)"),
        template="events/email/ring_agreement_summary",
        names_others=True,
        audience=leading,
    ),
)


def _coalition_url(name: str, coalition_id: int) -> str:
    return settings.SITE_URL + reverse(name, args=[coalition_id])


@notify.register_rule("events.reminders")
def session_reminders(now: dt.datetime) -> int:
    """Before a published session, at each of its offsets (default a week and a day), the
    people with a confirmed place get a reminder with the programme, their parts, the place or
    link and the calendar file. Only the latest offset that has come is sent (after a missed
    sweep, the day-before reminder alone), and only to who had their place before that moment
    (whoever signs up later got the confirmation just now)."""
    from .calendar import session_ics_cached

    sessions = {
        session.pk: session
        for session in Session.objects.published()
        .filter(start__gt=now, start__lte=now + LONGEST_REMINDER)
        .select_related("host_institution")
        .prefetch_related("parts")
    }
    due = {}
    for session in sessions.values():
        offsets = [d for d in session.reminder_offsets if now >= session.start - dt.timedelta(d)]
        if offsets:
            due[session.pk] = min(offsets)
    if not due:
        return 0
    registrations = (
        still_invited(Registration.objects.confirmed())
        .filter(session_id__in=due, person__erased_at__isnull=True)
        .annotate(placed_at=Coalesce("promoted_at", "queued_at"))
        .select_related("person__user")
        .prefetch_related("choices")
    )
    messages, files = [], {}
    for registration in registrations:
        session = sessions[registration.session_id]
        days = due[session.pk]
        if registration.placed_at >= session.start - dt.timedelta(days):
            continue
        registration.session = session
        # The subject counts from today (after a missed sweep: "tomorrow", not "in 7 days").
        days_left = (timezone.localdate(session.start) - timezone.localdate(now)).days
        with override(registration.person.language):
            context = mail_context(session, registration) | {"days": days_left}
        messages.append(
            notify.Message(
                registration.person,
                # The start is part of it: a session moved to another day is reminded anew.
                f"events.session:{session.pk}:{session.start:%Y%m%d%H%M}:reminder:{days}d",
                context,
                attachment_name="bijeenkomst.ics",
                attachment=session_ics_cached(session, registration, files),
            )
        )
    return notify.queue_many("session_reminder", messages)


@notify.register_rule("events.deadline")
def deadline_nudges(now: dt.datetime) -> int:
    """A few days before a published session's sign-up deadline, the invited people who have
    not answered (no sign-up, no cancellation) get a nudge. One query per such session."""
    sessions = (
        Session.objects.published()
        .filter(
            signup_deadline__gt=now,
            signup_deadline__lte=now + DEADLINE_NOTICE,
            start__gt=now,
        )
        .select_related("host_institution")
        .prefetch_related("parts")
    )
    messages = []
    for session in sessions:
        answered = Registration.objects.filter(session=session, person=OuterRef("pk"))
        # Whoever got the invitation only just now (published close to the deadline) is not
        # nudged on top of it.
        just_invited = Notification.objects.filter(
            kind="session_invitation",
            person=OuterRef("pk"),
            occasion=f"events.session:{session.pk}",
            created_at__gt=now - JUST_INVITED,
        )
        for person in (
            people_invited(session)
            .exclude(Exists(answered))
            .exclude(Exists(just_invited))
            .select_related("user")
        ):
            with override(person.language):
                context = mail_context(session)
            messages.append(
                notify.Message(person, f"events.session:{session.pk}:deadline", context)
            )
    return notify.queue_many("session_deadline", messages)


@notify.register_rule("digest.weekly")
def weekly_digest(now: dt.datetime) -> int:
    """On Monday from 7.00 (the first sweep of that day), for those who opted in: the
    outputs added last week that they may see, the sessions they are invited to and have not
    answered, and for leads the requests waiting for them. Nothing to tell: no mail. A few
    queries per person who opted in."""
    local = timezone.localtime(now)
    monday = (local - dt.timedelta(days=local.weekday())).replace(
        hour=7, minute=0, second=0, microsecond=0
    )
    if local < monday or local.weekday() != 0:
        return 0  # Mondays from 7.00 (a missed sweep is caught up that day, not later)
    year, week, _day = local.isocalendar()
    occasion = f"digest:{year}-W{week:02d}"
    since = monday - dt.timedelta(days=7)
    people = (
        Person.objects.filter(
            notify.wanting("weekly_digest"), user__isnull=False, erased_at__isnull=True
        )
        .exclude(
            Exists(
                Notification.objects.filter(
                    kind="weekly_digest", occasion=occasion, person=OuterRef("pk")
                )
            )
        )
        .select_related("user")
    )
    messages = []
    for person in people:
        outputs = list(
            Output.objects.visible_to(person)
            .filter(created_at__gte=since, created_at__lt=monday)
            .select_related("coalition")
            .order_by("-created_at")[:20]
        )
        answered = Registration.objects.filter(session=OuterRef("pk"), person=person)
        sessions = list(
            Session.objects.published()
            .invited(person)
            .filter(start__gt=now)
            .exclude(signup_deadline__lt=now)
            .exclude(Exists(answered))
            .order_by("start")[:20]
        )
        requests = list(
            RingMembership.objects.waiting()
            .filter(coalition__in=Coalition.objects.led_by(person).values("pk"))
            .select_related("person", "coalition", "ring", "requested_ring")
        )
        if not (outputs or sessions or requests):
            continue
        with override(person.language):
            context = {
                "outputs": [
                    {
                        "title": o.title,
                        "coalition": o.coalition.name,
                        "url": settings.SITE_URL
                        + reverse("coalitions:library")
                        + "?"
                        + urlencode({"q": o.title}),
                    }
                    for o in outputs
                ],
                "sessions": [
                    {
                        "title": s.title,
                        "when": notify.when(s.start, s.end),
                        "url": settings.SITE_URL + reverse("events:detail", args=[s.pk]),
                    }
                    for s in sessions
                ],
                "requests": [
                    {
                        "name": r.person.full_name,
                        "ring": (r.requested_ring or r.ring).name,
                        "coalition": r.coalition.name,
                        "url": settings.SITE_URL
                        + reverse("coalitions:board", args=[r.coalition_id]),
                    }
                    for r in requests
                ],
                "week": week,
            }
        messages.append(notify.Message(person, occasion, context))
    return notify.queue_many("weekly_digest", messages)


@notify.register_rule("events.ring_agreement")
def ring_agreement(now: dt.datetime) -> int:
    """The commitment rule's nudge: who just missed the last two sessions their ring (which
    expects attendance) was invited to gets a friendly message, and the leads one summary per
    ring. Once per pair of missed sessions (the occasion names the latest; its name is the one
    it had when this rule lived in coalitions, so nothing is sent twice)."""
    nudged, per_ring = [], {}
    for m, c in keep_missing(now):
        if not c.just_missed_two:
            continue
        context = {
            "ring": m.ring.name,
            "coalition": m.coalition.name,
            "expected": c.expected,
            "url": _coalition_url("coalitions:detail", m.coalition_id),
        }
        nudged.append(
            notify.Message(
                m.person, f"coalitions.ring:{m.ring_id}:missed:{c.last_invited}", context
            )
        )
        per_ring.setdefault(m.ring_id, (m, c, []))[2].append(m.person)
    count = notify.queue_many("ring_agreement", nudged)
    if not per_ring:
        return count
    leads = {
        coalition.pk: list(coalition.leads.all())
        for coalition in Coalition.objects.filter(
            pk__in={m.coalition_id for m, _c, _p in per_ring.values()}
        ).prefetch_related("leads__user")
    }
    summaries = []
    for ring_id, (m, c, people) in per_ring.items():
        names = sorted(person.full_name for person in people)
        for lead in leads[m.coalition_id]:
            summaries.append(
                notify.Message(
                    lead,
                    f"coalitions.ring:{ring_id}:missed_summary:{c.last_invited}",
                    {
                        "ring": m.ring.name,
                        "coalition": m.coalition.name,
                        "expected": c.expected,
                        "people": names,
                        "url": _coalition_url("coalitions:board", m.coalition_id),
                    },
                )
            )
    return count + notify.queue_many("ring_agreement_summary", summaries)
