"""What the network sends on its own: each rule at the right moment, to the right people only,
once (with time-machine; never today's date)."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalitions import services as coalition_services
from coalitions.models import Output
from events import services
from events.models import Session, SessionPart
from members import notify
from members import services as member_services
from members.models import Notification
from members.tasks import deliver, sweep
from tests.factories import in_school_year, make_coalition, make_membership, make_person

from .conftest import make_session

AMS = zoneinfo.ZoneInfo("Europe/Amsterdam")
START = dt.datetime(2026, 10, 15, 13, 0, tzinfo=AMS)  # a Thursday
DAY = dt.timedelta(days=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


def sent(kind: str) -> list:
    return [m for m in mail.outbox if m.extra_headers.get("X-Kwaliteitsnetwerk-Bericht") == kind]


def settle():
    """Send what the set-up queued (its own confirmations) and start with an empty mailbox."""
    deliver()
    mail.outbox.clear()


@pytest.fixture
def planned(institution, member):
    """A session on 15 October 2026 with an opening and a workshop; Charlie chose the workshop."""
    with at(START - 20 * DAY):
        session = make_session(
            start=START, address="Stationsplein 1, Zwolle", room="Zaal 2", capacity=2
        )
        SessionPart.objects.create(
            session=session, title="Opening", start=START, end=START + dt.timedelta(hours=1)
        )
        work = SessionPart.objects.create(
            session=session,
            title="Werkatelier",
            start=START + dt.timedelta(hours=1),
            end=START + dt.timedelta(hours=3),
            room="Lokaal 4",
        )
        services.register(member, session, parts=[work])
        settle()
    return session, work


class TestReminderBeforeASession:
    def test_a_week_and_a_day_before_with_programme_place_and_calendar(self, planned, member):
        session, _work = planned
        with at(START - 7 * DAY - dt.timedelta(hours=1)):
            sweep()
        assert sent("session_reminder") == []
        with at(START - 7 * DAY + dt.timedelta(hours=1)):
            sweep()
            sweep()  # a second beat
        [week] = sent("session_reminder")
        assert week.to == [member.email]
        assert week.subject == "Over 7 dagen: Netwerkbijeenkomst coalities"
        assert "do 15 oktober 2026, 13.00–17.00 uur" in week.body
        assert "Stationsplein 1, Zwolle, Zaal 2" in week.body
        assert "14.00–16.00 Werkatelier (Lokaal 4) — jouw keuze" in week.body
        assert "13.00–14.00 Opening\n" in week.body  # in the programme, not marked as theirs
        name, content, mimetype = week.attachments[0]
        assert name == "bijeenkomst.ics"
        assert "BEGIN:VEVENT" in content
        assert mimetype.startswith("text/calendar")
        assert "<strong>Werkatelier</strong>" in week.alternatives[0][0]
        with at(START - dt.timedelta(hours=20)):
            sweep()
        assert [m.subject for m in sent("session_reminder")] == [
            "Over 7 dagen: Netwerkbijeenkomst coalities",
            "Morgen: Netwerkbijeenkomst coalities",
        ]
        with at(START + dt.timedelta(hours=1)):
            sweep()
        assert len(sent("session_reminder")) == 2

    def test_missed_sweeps_are_caught_up_with_the_latest_reminder_only(self, planned):
        with at(START - dt.timedelta(hours=20)):
            sweep()
        assert [m.subject for m in sent("session_reminder")] == [
            "Morgen: Netwerkbijeenkomst coalities"
        ]

    def test_only_the_people_with_a_place_who_had_it_before_the_moment(
        self, planned, member, institution
    ):
        session, _work = planned
        session.capacity = 3
        session.save()
        with at(START - 20 * DAY):
            second = make_person("Twee", "Plaats", institution, account=True)
            muted = make_person("Geen", "Herinnering", institution, account=True)
            erased = make_person("Weg", "Gewist", institution, account=True)
            waiting = make_person("Wacht", "Lijst", institution, account=True)
            gone = make_person("Af", "Gemeld", institution, account=True)
            for person in (second, muted, erased, waiting):
                services.register(person, session)  # the last two on the waiting list
            services.cancel(services.register(gone, session), by=gone)
            member_services.erase_person(erased, by=erased)
            notify.set_preferences(muted, {"session_reminder": False}, by=muted)
            settle()
        late = make_person("Laat", "Aangemeld", institution, account=True)
        with at(START - 3 * DAY):
            # A place frees up: Wacht moves up, after the week's moment, before the day's.
            services.cancel(session.registrations.get(person=second), by=second)
            services.register(late, session)  # full again: waiting list
            settle()
        with at(START - 2 * DAY):
            sweep()  # the week's reminder, caught up, for who had a place a week before
        [week] = sent("session_reminder")
        assert week.to == [member.email]
        assert week.subject == "Over 2 dagen: Netwerkbijeenkomst coalities"
        mail.outbox.clear()
        with at(START - dt.timedelta(hours=20)):
            sweep()
        recipients = sorted(m.to[0] for m in sent("session_reminder"))
        assert recipients == sorted([member.email, waiting.email])
        for absent in (second, gone, erased, muted, late):
            assert absent.email not in recipients

    def test_a_draft_a_cancelled_and_a_past_session_remind_no_one(self, member):
        with at(START - 20 * DAY):
            draft = make_session(start=START, status=Session.Status.DRAFT)
            cancelled = make_session(start=START)
            services.register(member, cancelled)
            services.cancel_session(cancelled, by=None)
            settle()
        with at(START - DAY / 2):
            sweep()
        with at(START + DAY):
            sweep()
        assert sent("session_reminder") == []
        assert not Notification.objects.filter(occasion__startswith=f"events.session:{draft.pk}")

    def test_the_organiser_chooses_the_moments(self, planned, member):
        session, _work = planned
        session.reminder_days = "3"
        session.save()
        with at(START - 6 * DAY):
            sweep()
        assert sent("session_reminder") == []
        with at(START - 3 * DAY + dt.timedelta(minutes=5)):
            sweep()
        assert [m.subject for m in sent("session_reminder")] == [
            "Over 3 dagen: Netwerkbijeenkomst coalities"
        ]

    def test_a_sweep_runs_the_same_queries_for_three_or_thirty_reminders_but_one_mark_each(
        self, institution
    ):
        """The rules and the claims take a fixed number of queries; each message is marked
        sent as soon as the mail server took it (issue 25: a killed sender doubles at most the
        one in flight), one update per message and nothing more."""

        def sweep_queries(start, count):
            with at(start - 20 * DAY):
                session = make_session(start=start)
                for i in range(count):
                    services.register(make_person("P", f"Aantal{count}x{i}", institution), session)
                settle()
            with (
                at(start - 7 * DAY + dt.timedelta(hours=1)),
                CaptureQueriesContext(connection) as captured,
            ):
                sweep()
            assert len(sent("session_reminder")) == count
            mail.outbox.clear()
            return len(captured)

        three, thirty = sweep_queries(START, 3), sweep_queries(START + 14 * DAY, 30)
        assert thirty - three == 30 - 3


class TestDeadlineNudge:
    def test_invited_people_who_have_not_answered_a_few_days_before(
        self, lead, coalition, member, outsider, institution
    ):
        make_membership(member, coalition.rings.get(order=2))
        answered = make_person("Al", "Gereageerd", institution, account=True)
        make_membership(answered, coalition.rings.get(order=2))
        with at(START - 20 * DAY):
            meeting = make_session(
                start=START,
                kind=Session.Kind.COALITION,
                organiser_coalition=coalition,
                signup_deadline=START - 5 * DAY,
            )
            services.cancel(services.register(answered, meeting), by=answered)
            settle()
        with at(START - 9 * DAY):
            sweep()
        assert sent("session_deadline") == []
        with at(START - 7 * DAY):
            sweep()
            sweep()
        recipients = sorted(m.to[0] for m in sent("session_deadline"))
        assert recipients == sorted([member.email, lead.email])
        assert outsider.email not in recipients  # not invited to another coalition's meeting
        assert "aanmelden kan tot za 10 oktober 2026" in sent("session_deadline")[0].body.lower()
        with at(START - 4 * DAY):
            sweep()
        assert len(sent("session_deadline")) == 2


class TestChangesAreToldAtOnce:
    def test_a_new_time_reaches_everyone_signed_up_or_waiting(self, planned, institution):
        session, _work = planned
        with at(START - 10 * DAY):
            second = make_person("Twee", "Plaats", institution, account=True)
            waiting = make_person("Wacht", "Lijst", institution, account=True)
            gone = make_person("Af", "Gemeld", institution, account=True)
            services.register(second, session)
            services.register(waiting, session)
            services.cancel(services.register(gone, session), by=gone)
            settle()
            services.change_session(session, by=None, description="Nieuwe tekst")
            deliver()
            assert sent("session_changed") == []  # not what they signed up for
            services.change_session(session, by=None, start=START + dt.timedelta(hours=1))
            deliver()
        messages = sent("session_changed")
        assert sorted(m.to[0] for m in messages) == sorted(
            [session.registrations.first().person.email, second.email, waiting.email]
        )
        assert gone.email not in [m.to[0] for m in messages]
        assert messages[0].subject == "Gewijzigd: Netwerkbijeenkomst coalities"
        assert "14.00–17.00 uur" in messages[0].body
        assert "SEQUENCE" in messages[0].attachments[0][1]
        assert "List-Unsubscribe" not in messages[0].extra_headers  # cannot be turned off

    def test_a_moved_part_reaches_who_chose_it(self, planned, member, institution):
        session, work = planned
        with at(START - 10 * DAY):
            other = make_person("Alleen", "Plenair", institution, account=True)
            services.register(other, session)
            settle()
            work.room = "Aula"
            services.save_part(work, by=None, fields=["room"])
            deliver()
        [message] = sent("session_changed")
        assert message.to == [member.email]
        assert "Werkatelier" in message.body
        assert "Aula" in message.body


class TestInput:
    def test_leads_hear_of_new_input_and_the_author_of_the_answer(self, lead, coalition, member):
        make_membership(member, coalition.rings.get(order=2))
        item = coalition_services.add_input(
            coalition, by=member, kind="vraag", title="Hoe meten we?", body="Graag tips."
        )
        deliver()
        [new] = sent("input_new")
        assert new.to == [lead.email]
        assert "Hoe meten we?" in new.subject
        assert "Graag tips." in new.body
        coalition_services.answer_input(
            item, by=lead, status="beantwoord", reply="Zie de handreiking."
        )
        deliver()
        [answer] = sent("input_answered")
        assert answer.to == [member.email]
        assert "Zie de handreiking." in answer.body
        coalition_services.add_input(coalition, by=lead, kind="idee", title="Eigen", body="x")
        deliver()
        assert len(sent("input_new")) == 1  # a lead is not told of their own input


class TestCoalitionNudges:
    def test_a_month_before_the_planned_end_to_leads_and_the_bureau_contact(
        self, lead, coalition, bureau
    ):
        coalition.bureau_contact = bureau
        coalition.save()
        end = in_school_year(6, 30, 9, 0)  # the coalition's planned end (tests/factories.py)
        assert coalition.planned_end == end.date()
        with at(end - 31 * DAY):
            sweep()
        assert sent("coalition_ending") == []
        with at(end - 29 * DAY):
            sweep()
            sweep()
        messages = sent("coalition_ending")
        assert sorted(m.to[0] for m in messages) == sorted([lead.email, bureau.email])
        assert f" 30 juni {end.year}" in messages[0].subject
        assert "Er is nog geen opbrengst toegevoegd." in messages[0].body
        coalition_services.update_coalition(
            coalition,
            by=bureau,
            planned_end=end.date().replace(month=8, day=31),
            extension_reason="Meer tijd voor de handreiking",
        )
        with at(in_school_year(8, 5, 9, 0)):
            sweep()
        assert len(sent("coalition_ending")) == 4  # told again for the new end

    def test_a_ring_below_its_minimum_once_a_month_while_it_lasts(self, lead, coalition, member):
        kern = coalition.rings.get(order=1)
        make_membership(member, kern)
        with at(dt.datetime(2026, 11, 2, 9, 0, tzinfo=AMS)):
            sweep()
        with at(dt.datetime(2026, 11, 20, 9, 0, tzinfo=AMS)):
            sweep()
        [message] = sent("ring_below_minimum")
        assert message.to == [lead.email]
        assert "1 leden; afgesproken is minstens 5" in message.body
        with at(dt.datetime(2026, 12, 1, 9, 0, tzinfo=AMS)):
            sweep()
        assert len(sent("ring_below_minimum")) == 2
        for i in range(4):
            make_membership(make_person("Kern", f"Lid{i}"), kern)
        with at(dt.datetime(2027, 1, 4, 9, 0, tzinfo=AMS)):
            sweep()
        assert len(sent("ring_below_minimum")) == 2  # solved: no more


class TestRingAgreement:
    def test_who_missed_the_last_two_gets_a_friendly_word_and_the_lead_a_summary(
        self, lead, coalition, institution
    ):
        kern = coalition.rings.get(order=1)
        with at(dt.datetime(2026, 9, 2, 9, 0, tzinfo=AMS)):
            away = make_person("Vaak", "Afwezig", institution, account=True)
            present = make_person("Wel", "Aanwezig", institution, account=True)
            left = make_person("Al", "Vertrokken", institution, account=True)
            make_membership(away, kern)
            make_membership(present, kern)
            left_membership = make_membership(left, kern)
            meetings = []
            for day in (10, 24):
                start = dt.datetime(2026, 9, day, 13, 0, tzinfo=AMS)
                meetings.append(
                    make_session(
                        start=start, kind=Session.Kind.COALITION, organiser_coalition=coalition
                    )
                )
                meetings[-1].coalitions.add(coalition)
            for meeting in meetings[:1]:
                services.mark_attendance(
                    services.register(present, meeting), attended=True, by=lead
                )
            coalition_services.leave(left_membership, person=left)
            settle()
        with at(dt.datetime(2026, 9, 30, 9, 0, tzinfo=AMS)):
            sweep()
            sweep()
        [nudge] = sent("ring_agreement")
        assert nudge.to == [away.email]
        assert "4 bijeenkomsten per jaar" in nudge.body
        [summary] = sent("ring_agreement_summary")
        assert summary.to == [lead.email]
        assert "Vaak Afwezig" in summary.body
        assert "Wel Aanwezig" not in summary.body
        assert "Al Vertrokken" not in summary.body
        # A third miss does not nag again.
        with at(dt.datetime(2026, 10, 1, 9, 0, tzinfo=AMS)):
            make_session(
                start=dt.datetime(2026, 10, 8, 13, 0, tzinfo=AMS),
                kind=Session.Kind.COALITION,
                organiser_coalition=coalition,
            ).coalitions.add(coalition)
        mail.outbox.clear()
        with at(dt.datetime(2026, 10, 12, 9, 0, tzinfo=AMS)):
            sweep()
        # Vaak Afwezig is not nagged again; Wel Aanwezig has now missed two in a row.
        assert [m.to for m in sent("ring_agreement")] == [[present.email]]


class TestWeeklyDigest:
    def test_on_monday_for_who_opted_in_with_what_is_new(
        self, lead, coalition, member, outsider, institution
    ):
        make_membership(member, coalition.rings.get(order=2))
        with at(dt.datetime(2026, 10, 7, 9, 0, tzinfo=AMS)):
            notify.set_preferences(member, {"weekly_digest": True}, by=member)
            notify.set_preferences(lead, {"weekly_digest": True}, by=lead)
            asker = make_person("Wil", "Erbij", institution, account=True)
            coalition_services.join_ring(
                asker, coalition.rings.get(order=1), motivation="Graag in de kern"
            )
            make_session(start=START + 30 * DAY, title="Jaarconferentie 2026")
            Output.objects.create(
                coalition=coalition,
                title="Handreiking datagebruik",
                url="https://example.org/h",
                visibility=Output.Visibility.NETWORK,
            )
            Output.objects.create(
                coalition=make_coalition("Ander"),
                title="Geheim werkstuk",
                url="https://example.org/g",
                visibility=Output.Visibility.COALITION,
            )
            settle()
        with at(dt.datetime(2026, 10, 12, 6, 0, tzinfo=AMS)):  # Monday, before 7.00
            sweep()
        assert sent("weekly_digest") == []
        with at(dt.datetime(2026, 10, 12, 8, 0, tzinfo=AMS)):
            sweep()
            sweep()
        digests = {m.to[0]: m for m in sent("weekly_digest")}
        assert sorted(digests) == sorted([member.email, lead.email])  # not the outsider
        assert "Jaarconferentie 2026" in digests[member.email].body
        assert "Handreiking datagebruik" in digests[member.email].body
        assert "Geheim werkstuk" not in digests[member.email].body
        assert "Wil Erbij" in digests[lead.email].body
        assert "Wil Erbij" not in digests[member.email].body
        with at(dt.datetime(2026, 10, 16, 8, 0, tzinfo=AMS)):
            sweep()
        assert len(sent("weekly_digest")) == 2


class TestRemindersOnlyWhileTheyHold:
    def test_the_ring_agreement_is_kept_per_coalition(self, institution):
        lead_a = make_person("Trekker", "Alfa", institution, account=True)
        lead_b = make_person("Trekker", "Beta", institution, account=True)
        with at(dt.datetime(2026, 9, 2, 9, 0, tzinfo=AMS)):
            alfa = make_coalition("Alfa", leads=[lead_a])
            beta = make_coalition("Beta", leads=[lead_b])
            piet = make_person("Piet", "Twee", institution, account=True)
            make_membership(piet, alfa.rings.get(order=1))
            make_membership(piet, beta.rings.get(order=1))
            for coalition, came in ((alfa, True), (beta, False)):
                for day in (10, 24):
                    meeting = make_session(
                        start=dt.datetime(2026, 9, day, 13, 0, tzinfo=AMS),
                        kind=Session.Kind.COALITION,
                        organiser_coalition=coalition,
                    )
                    meeting.coalitions.add(coalition)
                    if came:
                        services.mark_attendance(
                            services.register(piet, meeting), attended=True, by=lead_a
                        )
            settle()
        with at(dt.datetime(2026, 9, 30, 9, 0, tzinfo=AMS)):
            sweep()
        assert [m.subject for m in sent("ring_agreement")] == ["We misten je bij Beta"]
        assert [m.to for m in sent("ring_agreement_summary")] == [[lead_b.email]]

    def test_no_nudge_before_the_organisers_could_record_who_came(self, lead, coalition):
        with at(dt.datetime(2026, 9, 2, 9, 0, tzinfo=AMS)):
            came = make_person("Wel", "Geweest")
            make_membership(came, coalition.rings.get(order=1))
            for day in (10, 24):
                meeting = make_session(
                    start=dt.datetime(2026, 9, day, 13, 0, tzinfo=AMS),
                    kind=Session.Kind.COALITION,
                    organiser_coalition=coalition,
                )
                meeting.coalitions.add(coalition)
                services.register(came, meeting)
            settle()
        with at(dt.datetime(2026, 9, 24, 17, 5, tzinfo=AMS)):  # five minutes after the end
            sweep()
        assert sent("ring_agreement") == []

    def test_who_left_the_ring_gets_no_reminder_of_its_meeting(self, lead, coalition, member):
        with at(START - 20 * DAY):
            membership = make_membership(member, coalition.rings.get(order=2))
            meeting = make_session(
                start=START,
                kind=Session.Kind.COALITION,
                organiser_coalition=coalition,
                form="online",
                online_link="https://meet.example/alleen-voor-de-coalitie",
            )
            meeting.coalitions.add(coalition)
            services.register(member, meeting)
            coalition_services.leave(membership, person=member)
            settle()
            services.change_session(meeting, by=None, room="Zaal 3")
            deliver()
        with at(START - dt.timedelta(hours=20)):
            sweep()
        assert sent("session_reminder") == []
        assert sent("session_changed") == []

    def test_a_session_moved_to_another_day_is_reminded_again(self, planned, member):
        session, _work = planned
        for moment in (START - 7 * DAY + dt.timedelta(hours=1), START - dt.timedelta(hours=20)):
            with at(moment):
                sweep()
        assert len(sent("session_reminder")) == 2
        later = START + 14 * DAY
        with at(START - dt.timedelta(hours=19)):
            services.change_session(
                session, by=None, start=later, end=later + dt.timedelta(hours=4)
            )
        mail.outbox.clear()
        with at(later - dt.timedelta(hours=20)):
            sweep()
        assert [m.subject for m in sent("session_reminder")] == [
            "Morgen: Netwerkbijeenkomst coalities"
        ]

    def test_a_waiting_place_gets_a_tentative_calendar_and_no_false_choice(
        self, planned, institution
    ):
        session, work = planned
        with at(START - 20 * DAY):
            work.capacity = 1
            work.save()
            second = make_person("Twee", "Plaats", institution, account=True)
            services.register(second, session, parts=[work])  # on the part's waiting list
            third = make_person("Drie", "Wacht", institution, account=True)
            services.register(third, session)  # the session is full (2): waiting list
            settle()
            services.change_session(session, by=None, room="Zaal 9")
            deliver()
        by_address = {m.to[0]: m for m in sent("session_changed")}
        assert "STATUS:TENTATIVE" in by_address[third.email].attachments[0][1]
        with at(START - 7 * DAY + dt.timedelta(hours=1)):
            sweep()
        [reminder] = [m for m in sent("session_reminder") if m.to == [second.email]]
        assert "Werkatelier (Lokaal 4) — je staat op de wachtlijst" in reminder.body
        assert "jouw keuze" not in reminder.body

    def test_nothing_about_a_cancelled_or_past_session_and_no_double_uur(self, member):
        with at(START - 20 * DAY):
            session = make_session(start=START)
            services.register(member, session)
            settle()
            services.cancel_session(session, by=None)
            services.change_session(session, by=None, room="Zaal 1")
            deliver()
        [cancelled] = sent("session_cancelled")
        assert "do 15 oktober 2026, 13.00–17.00 uur gaat niet door" in cancelled.body
        assert "uur uur" not in cancelled.body
        assert sent("session_changed") == []
        with at(START - 21 * DAY):
            past = make_session(start=START - 20 * DAY, signup_deadline=None)
        with at(START - 20 * DAY - dt.timedelta(hours=3)):
            services.register(member, past)
        with at(START):
            services.change_session(past, by=None, room="Zaal 2")
            deliver()
        assert sent("session_changed") == []

    def test_no_deadline_nudge_on_top_of_a_fresh_invitation(self, lead, coalition, member):
        make_membership(member, coalition.rings.get(order=2))
        with at(START - 8 * DAY):
            meeting = make_session(
                start=START,
                kind=Session.Kind.COALITION,
                organiser_coalition=coalition,
                status=Session.Status.DRAFT,
                signup_deadline=START - 6 * DAY,
            )
            services.publish(meeting, by=lead)
            sweep()
        assert [m.to for m in sent("session_invitation") if m.to == [member.email]]
        assert sent("session_deadline") == []

    def test_the_digest_is_a_monday_thing(self, member):
        with at(dt.datetime(2026, 10, 7, 9, 0, tzinfo=AMS)):
            notify.set_preferences(member, {"weekly_digest": True}, by=member)
        with at(dt.datetime(2026, 10, 12, 8, 0, tzinfo=AMS)):  # Monday: nothing to tell
            sweep()
        with at(dt.datetime(2026, 10, 14, 9, 0, tzinfo=AMS)):  # Wednesday: something new
            make_session(start=START + 30 * DAY, title="Nieuw")
            sweep()
        assert sent("weekly_digest") == []
        with at(dt.datetime(2026, 10, 19, 8, 0, tzinfo=AMS)):  # the next Monday
            sweep()
        assert len(sent("weekly_digest")) == 1
