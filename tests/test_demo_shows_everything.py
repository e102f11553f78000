"""The demo shows every feature on the first day (`make run`, then one `send_reminders`).

One seeding (it takes a while), then every check on it."""

import datetime as dt
import io

import time_machine
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from coalitions.models import Coalition, Evaluation, Output, RingMembership
from events.models import Registration, Session
from events.services import commitment
from members.models import Action, Notification

# A Wednesday in the middle of a school year.
DAY = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)


def test_the_demo_shows_every_feature_on_the_first_day(db, settings):
    settings.DEBUG = True
    with time_machine.travel(DAY, tick=False):
        call_command("seed_demo", verbosity=0)
        today = timezone.localdate()

        # Sessions held since people joined, with attendance: commitment and its flags show.
        peer = Coalition.objects.get(name="Peer review in teams")
        kept = commitment(
            list(RingMembership.objects.active().filter(coalition=peer).select_related("ring"))
        )
        assert any(c.invited >= 2 for c in kept.values())
        assert any(c.attended for c in kept.values())
        assert any(c.missed_in_a_row == 2 for c in kept.values())

        # Tomorrow with sign-ups; a sign-up deadline in two days.
        soon = Session.objects.filter(start__date=today + dt.timedelta(days=1))
        assert Registration.objects.filter(session__in=soon, status="bevestigd").exists()
        assert Session.objects.filter(signup_deadline__date=today + dt.timedelta(days=2)).exists()

        # Past conferences had people (not "0 van 300").
        held = Session.objects.filter(kind="jaarconferentie", end__lt=timezone.now())
        assert held.exists()
        for conference in held:
            assert conference.registrations.filter(status="bevestigd").exists(), conference.title

        # Evaluations in more than one school year.
        assert len(set(Evaluation.objects.values_list("coalition__school_year", flat=True))) > 1

        # Opdracht and Doel differ; an output's kind matches its title.
        assert Coalition.objects.exists()
        assert not Coalition.objects.filter(goal=F("assignment")).exists()
        words = [("checklist", "checklist"), ("praatplaat", "praatplaat"), ("toolbox", "toolbox")]
        for output in Output.objects.all():
            for word, kind in words:
                if word in output.title.lower():
                    assert output.kind == kind, output.title

        # Phase changes of closed coalitions are dated in their year, not today.
        closed = Coalition.objects.filter(status="afgerond")
        assert closed.exists()
        for coalition in closed:
            changes = Action.objects.filter(
                verb="coalition.status_changed", scope=f"coalitions.coalition:{coalition.pk}"
            )
            assert changes.exists()
            for change in changes:
                assert change.at.date() <= coalition.planned_end, coalition.name

        # One sweep by hand queues a reminder and the nudges.
        Notification.objects.all().delete()  # the seeding's own history is not the point
        call_command("send_reminders", stdout=io.StringIO())
        kinds = set(Notification.objects.values_list("kind", flat=True))
        assert "session_reminder" in kinds
        assert "session_deadline" in kinds
        assert "ring_agreement" in kinds
