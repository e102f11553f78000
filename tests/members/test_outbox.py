"""The outbox: every message once, never lost; temporary failures retried, permanent ones not;
one-click unsubscribe per kind; the bureau's view of it."""

import datetime as dt
import smtplib
import threading

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from members import notify
from members.models import Action, MailPreference, Notification
from members.tasks import deliver, send_notifications, sweep
from tests.conftest import login
from tests.factories import make_person

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def queue_invitations(people, occasion="events.session:1"):
    """Messages of an optional kind (session_invitation), through the one door."""
    return notify.queue_many(
        "session_invitation",
        [
            notify.Message(
                p,
                occasion,
                {"session": {"title": "Netwerkdag"}, "when": "do 9 oktober 2025", "url": "x"},
            )
            for p in people
        ],
    )


@pytest.fixture
def crowd(institution, db):
    return [make_person("Lid", f"Nummer{i}", institution, account=True) for i in range(6)]


class TestExactlyOnce:
    def test_two_sweeps_and_a_retried_task_send_each_message_once(self, crowd):
        queue_invitations(crowd)
        ids = list(Notification.objects.values_list("pk", flat=True))
        assert send_notifications(ids) == 6
        assert send_notifications(ids) == 0  # the task retried: everything is claimed and sent
        assert sweep()["handled"] == 0
        assert sweep()["handled"] == 0
        assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in crowd)
        assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}

    def test_queueing_twice_makes_one_message(self, crowd):
        assert queue_invitations(crowd) == 6
        assert queue_invitations(crowd) == 0
        assert notify.queue("session_invitation", crowd[0], "events.session:1", {}) is None
        assert Notification.objects.count() == 6

    def test_a_rolled_back_change_sends_nothing(self, crowd, django_capture_on_commit_callbacks):
        def change_that_fails():
            with transaction.atomic():
                queue_invitations(crowd)
                raise RuntimeError("the change failed")

        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuntimeError),
        ):
            change_that_fails()
        assert callbacks == []
        assert not Notification.objects.exists()
        assert sweep()["handled"] == 0
        assert mail.outbox == []

    def test_sent_after_commit(self, crowd, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            queue_invitations(crowd)
            assert mail.outbox == []  # not before the commit
        assert len(mail.outbox) == 6

    def test_a_worker_that_dies_after_claiming_loses_nothing(self, crowd):
        queue_invitations(crowd[:1])
        with time_machine.travel(T0, tick=False):
            # A worker claims the row and is killed before it sends or marks anything.
            Notification.objects.update(status="sending", claimed_at=timezone.now(), attempts=1)
        with time_machine.travel(T0 + Notification.CLAIM_TIMEOUT / 2, tick=False):
            assert sweep()["handled"] == 0  # it may still be at it: not sent twice
            assert mail.outbox == []
        with time_machine.travel(T0 + Notification.CLAIM_TIMEOUT + dt.timedelta(minutes=1)):
            assert sweep()["handled"] == 1
            assert sweep()["handled"] == 0
        assert [m.to for m in mail.outbox] == [[crowd[0].email]]
        row = Notification.objects.get()
        assert row.status == "sent"
        assert row.attempts == 2

    def test_a_dead_workers_claim_is_taken_over_after_a_minute(self, crowd):
        queue_invitations(crowd[:1])
        with time_machine.travel(T0, tick=False):
            Notification.objects.update(status="sending", claimed_at=timezone.now(), attempts=1)
        with time_machine.travel(T0 + dt.timedelta(seconds=59), tick=False):
            assert sweep()["handled"] == 0
        with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
            assert sweep()["handled"] == 1
        assert [m.to for m in mail.outbox] == [[crowd[0].email]]

    def test_a_sweep_runs_three_queries_a_chunk_and_one_a_message(self, crowd, institution):
        def queries_to_send(people, occasion):
            queue_invitations(people, occasion)
            with CaptureQueriesContext(connection) as captured:
                handled = deliver()
            assert handled == len(people)
            return len(captured)

        many = crowd + [make_person("Veel", f"Mensen{i}", institution) for i in range(30)]
        # Each message is marked sent as soon as the server took it (one query each), so a
        # killed worker sends at most the one in flight again; the rest does not grow.
        assert queries_to_send(many, "b") - queries_to_send(crowd[:2], "a") == len(many) - 2


@pytest.mark.postgres_only
def test_two_sweeps_at_once_send_each_message_once(
    transactional_db, institution, settings, monkeypatch
):
    """Two sweeps at the same moment (a second beat): SKIP LOCKED gives each its own rows."""
    settings.NOTIFICATION_BATCH_SIZE = 7
    monkeypatch.setattr(notify, "_send_after_commit", lambda *a, **k: None)  # broker down
    people = [make_person("Lid", f"Tegelijk{i}", institution) for i in range(40)]
    queue_invitations(people)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(sweep()["handled"])
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == 40
    recipients = [m.to[0] for m in mail.outbox]
    assert len(recipients) == 40
    assert sorted(recipients) == sorted(p.email for p in people)


class FlakyBackend(LocmemBackend):
    """Refuses with the SMTP error set on the class, then (if `times` runs out) delivers."""

    error: Exception | None = None
    times = 0

    def send_messages(self, messages):
        if FlakyBackend.times:
            FlakyBackend.times -= 1
            raise FlakyBackend.error
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.members.test_outbox.FlakyBackend"}}
    yield FlakyBackend
    FlakyBackend.error, FlakyBackend.times = None, 0


class TestFailures:
    def test_a_temporary_failure_is_tried_again_later_and_then_sent(self, crowd, flaky):
        flaky.error, flaky.times = smtplib.SMTPResponseException(451, b"Try again later"), 1
        with time_machine.travel(T0, tick=False):
            queue_invitations(crowd[:1])
            assert deliver() == 1
            row = Notification.objects.get()
            assert row.status == "queued"
            assert row.attempts == 1
            assert "451" in row.last_error
            assert row.next_attempt_at == T0 + dt.timedelta(minutes=1)
            assert deliver() == 0  # not before its time: no hammering
        assert mail.outbox == []
        with time_machine.travel(T0 + dt.timedelta(minutes=2), tick=False):
            assert sweep()["handled"] == 1
        row.refresh_from_db()
        assert row.status == "sent"
        assert row.attempts == 2
        assert [m.to for m in mail.outbox] == [[crowd[0].email]]

    def test_a_lost_connection_is_temporary(self, crowd, flaky):
        flaky.error, flaky.times = smtplib.SMTPServerDisconnected("gone"), 1
        queue_invitations(crowd[:3])
        assert deliver() == 3
        assert list(Notification.objects.values_list("status", flat=True)) == ["queued"] * 3

    def test_a_permanent_refusal_is_recorded_and_not_retried(self, crowd, flaky):
        address = crowd[0].email
        flaky.error = smtplib.SMTPRecipientsRefused({address: (550, b"No such user")})
        flaky.times = 1
        with time_machine.travel(T0, tick=False):
            queue_invitations(crowd[:1])
            assert deliver() == 1
        row = Notification.objects.get()
        assert row.status == "failed"
        assert row.attempts == 1
        assert "550" in row.last_error
        with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
            assert sweep()["handled"] == 0
        assert mail.outbox == []

    def test_it_gives_up_after_the_last_attempt(self, crowd, flaky):
        flaky.error, flaky.times = smtplib.SMTPResponseException(421, b"Busy"), 99
        with time_machine.travel(T0, tick=False):
            queue_invitations(crowd[:1])
        moment = T0
        for _attempt in range(Notification.MAX_ATTEMPTS):
            with time_machine.travel(moment, tick=False):
                assert deliver() == 1
            moment += dt.timedelta(days=1)
        row = Notification.objects.get()
        assert row.status == "failed"
        assert row.attempts == Notification.MAX_ATTEMPTS
        with time_machine.travel(moment, tick=False):
            assert deliver() == 0


class TestWhatAMessageIs:
    def test_html_and_text_in_the_persons_language_with_the_unsubscribe_headers(
        self, member, institution
    ):
        member.user.language = "en"
        member.user.save()
        dutch = make_person("Noor", "Groot", institution, account=True)
        queue_invitations([member, dutch])
        deliver()
        by_address = {m.to[0]: m for m in mail.outbox}
        english, nederlands = by_address[member.email], by_address[dutch.email]
        assert english.subject == "Invitation: Netwerkdag"
        assert nederlands.subject == "Uitnodiging: Netwerkdag"
        assert nederlands.body.startswith("Hallo Noor,")
        html, mimetype = nederlands.alternatives[0]
        assert mimetype == "text/html"
        assert 'lang="nl"' in html
        url = nederlands.extra_headers["List-Unsubscribe"].strip("<>")
        assert url in nederlands.body
        assert "/e-mail/uitschrijven/" in url
        assert nederlands.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert nederlands.extra_headers["Message-ID"].startswith("<notification-")
        # On the wire the address stays readable (no RFC 2047 encoded words), however long.
        raw = nederlands.message().as_bytes()
        assert f"List-Unsubscribe: <{url}>".encode() in raw
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw

    def test_a_message_one_cannot_do_without_has_no_unsubscribe(self, member):
        notify.queue("session_cancelled", member, "x", {"session": {"title": "Dag"}, "when": "z"})
        deliver()
        [message] = mail.outbox
        assert "List-Unsubscribe" not in message.extra_headers
        assert "uitschrijven" not in message.body

    def test_dates_are_written_as_people_write_them(self):
        start = dt.datetime(2025, 10, 9, 13, 0, tzinfo=dt.UTC) + dt.timedelta(hours=-2)
        end = start + dt.timedelta(hours=3, minutes=30)
        with translation.override("nl"):
            assert notify.when(start, end) == "do 9 oktober 2025, 13.00–16.30 uur"
        with translation.override("en"):
            assert notify.when(start, end) == "Thu 9 October 2025, 13:00–16:30"


class TestUnsubscribe:
    def test_one_click_from_the_header_without_logging_in_stops_that_kind_only(
        self, client, member
    ):
        queue_invitations([member])
        deliver()
        url = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>")
        # RFC 8058: the mail program posts this body, with no cookie and no CSRF token.
        client.handler.enforce_csrf_checks = True
        response = client.post(url, {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert MailPreference.objects.get(person=member).wanted is False
        assert queue_invitations([member], "events.session:2") == 0
        # Other kinds still arrive.
        assert notify.queue(
            "session_reminder", member, "r", {"session": {"title": "Dag"}, "days": 1}
        )
        assert notify.queue("session_cancelled", member, "c", {"session": {"title": "Dag"}})

    def test_opening_the_link_asks_first(self, client, member):
        url = notify.unsubscribe_url(member.pk, "session_invitation")
        response = client.get(url)
        assert response.status_code == 200
        assert "Uitschrijven voor deze berichten" in response.content.decode()
        assert not MailPreference.objects.exists()

    def test_a_forged_or_mandatory_link_is_refused(self, client, member):
        token = notify.unsubscribe_token(member.pk, "session_invitation")
        assert client.post(reverse("members:unsubscribe", args=[token + "x"])).status_code == 404
        mandatory = notify._SIGNER.sign_object([member.pk, "session_cancelled"])
        assert client.post(reverse("members:unsubscribe", args=[mandatory])).status_code == 404
        assert not MailPreference.objects.exists()

    def test_my_account_lists_the_choices_and_saves_them(self, client, member):
        login(client, member)
        page = client.get(reverse("members:my_account")).content.decode()
        assert 'name="weekly_digest"' in page
        assert 'name="session_reminder"' in page
        assert 'name="session_cancelled"' not in page  # cannot be turned off: listed, not asked
        assert "Een bijeenkomst waarvoor je bent aangemeld gaat niet door" in page
        wanted = {kind.name: "on" for kind in notify.optional_kinds()}
        del wanted["session_reminder"]
        response = client.post(reverse("members:my_account"), {"form": "mail", **wanted})
        assert response.status_code == 302
        assert notify.preferences(member)["session_reminder"] is False
        assert notify.preferences(member)["weekly_digest"] is True
        assert notify.preferences(member)["session_invitation"] is True


class TestTheBureausOutbox:
    def test_filter_and_send_one_again(self, client, bureau, crowd, flaky):
        flaky.error = smtplib.SMTPRecipientsRefused({crowd[0].email: (550, b"unknown")})
        flaky.times = 1
        queue_invitations(crowd[:2])
        deliver()
        failed = Notification.objects.get(status="failed")
        login(client, bureau)
        page = client.get(reverse("members:outbox"), {"status": "failed"}).content.decode()
        assert crowd[0].email in page
        assert "550" in page
        assert crowd[1].email not in page
        response = client.post(reverse("members:outbox_resend", args=[failed.pk]))
        assert response.status_code == 302
        failed.refresh_from_db()
        assert failed.status == "queued"
        assert failed.attempts == 0
        assert deliver() == 1  # (the task runs after the commit; the test holds a transaction)
        failed.refresh_from_db()
        assert failed.status == "sent"
        assert sorted(m.to[0] for m in mail.outbox) == sorted([crowd[0].email, crowd[1].email])

    def test_an_account_invitation_is_not_kept_or_resent(self, client, bureau, institution):
        from members import services

        contact = make_person("Eva", "Bos", institution)
        _invitation, token = services.invite(contact, invited_by=bureau)
        deliver()
        row = Notification.objects.get(kind="account_invitation")
        assert row.status == "sent"
        assert row.body == ""
        assert row.html == ""
        assert token in mail.outbox[0].body
        login(client, bureau)
        client.post(reverse("members:outbox_resend", args=[row.pk]))
        row.refresh_from_db()
        assert row.status == "sent"
        assert len(mail.outbox) == 1

    def test_only_a_finished_message_without_a_personal_link_may_be_resent(self, institution):
        """Notification.may_resend: the outbox's button and notify.resend hold the same rule."""
        person = make_person("Eva", "Bos", institution)
        queue_invitations([person])
        row = Notification.objects.get()
        for status, may in (("queued", False), ("sending", False), ("failed", True)):
            row.status = status
            assert row.may_resend is may, status
        row.status, row.sent_at = "sent", timezone.now()
        assert row.may_resend
        row.kind = "account_invitation"  # its text was a link, blanked once sent
        assert not row.may_resend
        row.status = "failed"
        assert not row.may_resend

    def test_the_outbox_offers_to_resend_by_the_rule(self, client, bureau, crowd):
        queue_invitations(crowd[:2])
        done = Notification.objects.filter(person=crowd[0])
        done.update(status="sent", sent_at=timezone.now())
        waiting = Notification.objects.get(person=crowd[1])
        waiting.attempts = 1
        waiting.save()
        login(client, bureau)
        page = client.get(reverse("members:outbox")).content.decode()
        assert page.count(">Opnieuw versturen<") == 1
        assert reverse("members:outbox_resend", args=[done.get().pk]) in page
        assert reverse("members:outbox_resend", args=[waiting.pk]) not in page
        assert "volgende poging" in page
        with pytest.raises(ValueError):
            notify.resend(waiting, by=bureau)
        waiting.refresh_from_db()
        assert (waiting.status, waiting.attempts) == ("queued", 1)  # unchanged

    def test_a_fixed_number_of_queries_for_a_full_page(
        self, client, bureau, institution, django_assert_max_num_queries
    ):
        queue_invitations([make_person("Veel", f"Post{i}", institution) for i in range(70)])
        login(client, bureau)
        with django_assert_max_num_queries(8):
            response = client.get(reverse("members:outbox"))
        page = response.content.decode()
        from members.views import OUTBOX_PAGE

        assert page.count("Uitnodiging: Netwerkdag") == OUTBOX_PAGE == 25  # one page
        assert "Pagina 1 van 3" in page

    def test_it_pages_by_the_counts_per_status_and_counts_other_filters_itself(
        self, client, bureau, institution
    ):
        queue_invitations([make_person("Veel", f"Post{i}", institution) for i in range(30)])
        Notification.objects.filter(pk__in=Notification.objects.order_by("pk")[:27]).update(
            status="sent", sent_at=timezone.now()
        )
        login(client, bureau)

        def pages(**filters):
            page = client.get(reverse("members:outbox"), filters).content.decode()
            return page.count("<td>Veel Post"), "Pagina 1 van 2" in page

        assert pages() == (25, True)
        assert pages(status="sent") == (25, True)
        assert pages(status="queued") == (3, False)
        assert pages(status="failed") == (0, False)
        assert pages(status="nonsense") == (25, True)  # an invalid filter filters nothing
        assert pages(kind="session_invitation", status="queued") == (3, False)
        assert pages(q="Post1") == (11, False)  # Post1 and Post10–Post19


class _Inbox:
    """An SMTP server's handler (aiosmtpd) that keeps what it receives."""

    def __init__(self):
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope.content)
        return "250 Message accepted"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.postgres_only
def test_a_real_worker_and_beat_on_redis_deliver_a_reminder_over_smtp(
    transactional_db, member, tmp_path, redis_url
):
    """End to end: the beat (embedded in a real Celery worker, on Redis) sweeps, the reminder
    rule finds the session of tomorrow, and the mail arrives at a real SMTP server, once."""
    import email
    import os
    import subprocess
    import time
    from pathlib import Path

    import redis
    from aiosmtpd.controller import Controller

    from events import services as event_services
    from events.models import Registration
    from tests.clock import travelled
    from tests.events.conftest import make_session

    start = timezone.now() + dt.timedelta(hours=20)
    session = make_session(start=start, title="Bijeenkomst van morgen", signup_deadline=None)
    registration = event_services.register(member, session)
    # Signed up three days ago: the day-before reminder is theirs.
    Registration.objects.filter(pk=registration.pk).update(
        queued_at=timezone.now() - dt.timedelta(days=3)
    )
    Notification.objects.update(status="sent", sent_at=timezone.now())  # the confirmation

    inbox, port = _Inbox(), _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    # Its own Redis database, emptied: the beat and the worker meet there and nowhere else.
    broker = redis_url.rsplit("/", 1)[0] + "/15"
    redis.Redis.from_url(broker).flushdb()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": broker,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "REMINDER_SWEEP_SECONDS": "2",
    }
    # The worker lives at our clock's moment (tests/clock.py), or the reminder of "tomorrow"
    # would be due on another day than the one the session was made for.
    worker = subprocess.Popen(
        travelled(
            [
                "-m",
                "celery",
                "-A",
                "kwaliteitsnetwerk",
                "worker",
                "--beat",
                # An in-memory schedule: the default shelve (dbm.sqlite3) fails now and then with
                # "locking protocol" under load, and a test needs no schedule that outlives it.
                "--scheduler",
                "celery.beat:Scheduler",
                "--pool",
                "solo",
                "--loglevel",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ]
        ),
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def reminders():
        found = []
        for raw in inbox.messages:
            message = email.message_from_bytes(raw)
            if (
                message["X-Kwaliteitsnetwerk-Bericht"] == "session_reminder"
                and message["To"] == member.email
            ):
                found.append(message)
        return found

    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not reminders():
            time.sleep(0.5)
        if not reminders():
            worker.terminate()
            pytest.fail("no reminder arrived within 120 s:\n" + worker.communicate(timeout=15)[0])
        time.sleep(4)  # a few more sweeps: nothing goes out twice
        [reminder] = reminders()
        assert reminder["To"] == member.email
        assert "Bijeenkomst van morgen" in str(
            email.header.make_header(email.header.decode_header(reminder["Subject"]))
        )
        row = Notification.objects.get(kind="session_reminder")
        assert row.status == "sent"
        assert row.person_id == member.pk
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        smtp.stop()
    assert "Traceback" not in output, output


class DyingBackend(LocmemBackend):
    """Delivers `left` messages, then the worker is killed (SIGTERM, out of memory)."""

    left = 0

    def send_messages(self, messages):
        if DyingBackend.left == 0:
            raise KeyboardInterrupt("worker killed")
        DyingBackend.left -= 1
        return super().send_messages(messages)


class TestDeliveryWhenSomethingGoesWrong:
    def test_a_worker_killed_mid_batch_sends_nothing_twice_it_had_sent(
        self, institution, settings, monkeypatch
    ):
        from members import tasks

        monkeypatch.setattr(notify, "_send_after_commit", lambda *a, **k: None)
        monkeypatch.setattr(tasks, "CHUNK", 5)
        settings.MAILERS = {"default": {"BACKEND": "tests.members.test_outbox.DyingBackend"}}
        people = [make_person("Lid", f"Gestopt{i}", institution) for i in range(12)]
        with time_machine.travel(T0, tick=False):
            queue_invitations(people)
            DyingBackend.left = 7  # the second chunk dies after two of its five
            with pytest.raises(KeyboardInterrupt):
                deliver()
        assert len(mail.outbox) == 7
        DyingBackend.left = 99
        with time_machine.travel(T0 + Notification.CLAIM_TIMEOUT + dt.timedelta(minutes=1)):
            sweep()
        recipients = [m.to[0] for m in mail.outbox]
        assert sorted(set(recipients)) == sorted(p.email for p in people)
        # Each was marked sent when the server took it; the one in flight had not gone out.
        assert len(recipients) == len(set(recipients))
        assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}

    def test_an_unreachable_server_costs_no_attempts(self, crowd, flaky):
        flaky.error, flaky.times = smtplib.SMTPServerDisconnected("relay down"), 99
        with time_machine.travel(T0, tick=False):
            queue_invitations(crowd[:2])
        moment = T0
        for _hour in range(60):  # five hours of sweeps while the relay is down
            with time_machine.travel(moment, tick=False):
                sweep()
            moment += dt.timedelta(minutes=5)
        rows = list(Notification.objects.all())
        assert {row.status for row in rows} == {"queued"}
        assert {row.attempts for row in rows} == {0}
        flaky.times = 0
        with time_machine.travel(moment, tick=False):
            sweep()
        assert len(mail.outbox) == 2

    def test_subjects_and_text_are_not_html_escaped(self, member):
        notify.queue(
            "session_invitation",
            member,
            "x",
            {"session": {"title": "R&D en 'data'"}, "when": "w", "url": "u"},
        )
        deliver()
        [message] = mail.outbox
        assert message.subject == "Uitnodiging: R&D en 'data'"
        assert "R&D en 'data'" in message.body
        html = message.alternatives[0][0]
        assert "<title>Uitnodiging: R&amp;D en &#x27;data&#x27;</title>" in html

    def test_erasure_never_sends_a_blank_mail(self, lead, member, monkeypatch):
        from coalitions import services as coalition_services
        from members import services as member_services
        from tests.factories import make_membership

        coalition = lead.led_coalitions.get()
        make_membership(member, coalition.rings.get(order=2))
        monkeypatch.setattr(notify, "_send_after_commit", lambda *a, **k: None)  # worker busy
        coalition_services.add_input(coalition, by=member, kind="vraag", title="Hoe?", body="Tip")
        assert Notification.objects.filter(kind="input_new").exists()
        member_services.erase_person(member, by=member)
        assert not Notification.objects.filter(kind="input_new").exists()
        deliver()
        assert all(m.subject and m.body for m in mail.outbox)

    def test_a_message_on_its_way_is_not_resent(self, client, bureau, crowd):
        queue_invitations(crowd[:1])
        row = Notification.objects.get()
        login(client, bureau)
        response = client.post(
            reverse("members:outbox_resend", args=[row.pk]), {"next": "https://evil.example/"}
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("members:outbox")
        row.refresh_from_db()
        assert row.status == "queued"
        assert not Action.objects.filter(verb="notification.resent").exists()
