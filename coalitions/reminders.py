"""What the coalitions send on their own, each sweep (members.notify rules): a month before
the planned end, a ring below its minimum, and the ring-agreement nudge. Each rule asks what is
due by now, so a missed sweep is caught up; the outbox's unique row keeps each message once."""

import datetime as dt

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from members import notify

from .models import Coalition, Output, Ring, RingMembership

ENDING_NOTICE = dt.timedelta(days=30)
PRESENCE_GRACE = dt.timedelta(days=3)


def _url(name: str, coalition_id: int) -> str:
    return settings.SITE_URL + reverse(name, args=[coalition_id])


def _leads_and_contact(coalition: Coalition) -> list:
    people = {lead.pk: lead for lead in coalition.leads.all()}
    if coalition.bureau_contact_id:
        people.setdefault(coalition.bureau_contact_id, coalition.bureau_contact)
    return list(people.values())


@notify.register_rule("coalitions.ending")
def coalition_ending(now: dt.datetime) -> int:
    """A month before a running coalition's planned end: its leads and bureau contact plan the
    evaluation and the output. Extended (a new planned end), they are told again then."""
    today = timezone.localdate(now)
    coalitions = (
        Coalition.objects.running()
        .filter(planned_end__gt=today, planned_end__lte=today + ENDING_NOTICE)
        .annotate(has_output=Exists(Output.objects.filter(coalition=OuterRef("pk"))))
        .select_related("bureau_contact__user")
        .prefetch_related("leads__user")
    )
    messages = []
    for coalition in coalitions:
        for person in _leads_and_contact(coalition):
            with override(person.language):
                context = {
                    "coalition": coalition.name,
                    "end": notify.day(coalition.planned_end),
                    "has_output": coalition.has_output,
                    "url": _url("coalitions:detail", coalition.pk),
                }
            messages.append(
                notify.Message(
                    person,
                    f"coalitions.coalition:{coalition.pk}:ends:{coalition.planned_end:%Y%m%d}",
                    context,
                )
            )
    return notify.queue_many("coalition_ending", messages)


@notify.register_rule("coalitions.below_minimum")
def ring_below_minimum(now: dt.datetime) -> int:
    """An active coalition's ring with fewer members than it agreed on: its leads and bureau
    contact hear of it once a month while it lasts."""
    month = timezone.localdate(now).strftime("%Y-%m")
    rings = (
        Ring.objects.below_minimum()
        .filter(coalition__status=Coalition.Status.ACTIVE)
        .select_related("coalition__bureau_contact__user")
        .prefetch_related("coalition__leads__user")
    )
    messages = []
    for ring in rings:
        for person in _leads_and_contact(ring.coalition):
            messages.append(
                notify.Message(
                    person,
                    f"coalitions.ring:{ring.pk}:below_minimum:{month}",
                    {
                        "ring": ring.name,
                        "coalition": ring.coalition.name,
                        "members": ring.active_count,
                        "minimum": ring.minimum_size,
                        "url": _url("coalitions:board", ring.coalition_id),
                    },
                )
            )
    return notify.queue_many("ring_below_minimum", messages)


@notify.register_rule("coalitions.ring_agreement")
def ring_agreement(now: dt.datetime) -> int:
    """The commitment rule's nudge: who just missed the last two sessions their ring (which
    expects attendance) was invited to gets a friendly message, and the leads one summary per
    ring. Once per pair of missed sessions (the occasion names the latest)."""
    from events.services import commitment

    memberships = list(
        RingMembership.objects.active()
        .filter(
            coalition__status=Coalition.Status.ACTIVE,
            ring__sessions_expected__isnull=False,
            person__erased_at__isnull=True,
        )
        .select_related("ring", "coalition", "person__user")
    )
    # A session counts once its organisers had a few days to record who came.
    kept = commitment(
        memberships,
        today=timezone.localdate(now),
        held_before=now - PRESENCE_GRACE,
        by_membership=True,
    )
    nudged, per_ring = [], {}
    for m in memberships:
        c = kept.get(m.pk)
        # Exactly two: the nudge comes when it happens, not again at every further miss.
        if c is None or c.missed_in_a_row != 2 or not c.expected:
            continue
        context = {
            "ring": m.ring.name,
            "coalition": m.coalition.name,
            "expected": c.expected,
            "url": _url("coalitions:detail", m.coalition_id),
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
                        "url": _url("coalitions:board", m.coalition_id),
                    },
                )
            )
    return count + notify.queue_many("ring_agreement_summary", summaries)
