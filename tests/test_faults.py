"""When a part fails (docs/architecture.md): Redis killed or paused, the broker unreachable, the
database gone, a sending worker killed. Each test breaks the part for real where it can (its own
redis-server on a free port, its own SMTP sink, a worker process killed with SIGKILL) and at the
driver where it cannot safely (the shared PostgreSQL is never stopped)."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from events.models import Registration
from members.models import Notification
from members.tasks import CHUNK, sweep
from tests.clock import travelled
from tests.conftest import login
from tests.events.conftest import make_session

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A redis-server of the test's own, on a free port: killed, paused and resumed at will."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "OwnRedis":
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def own_redis():
    """Started per test (a second Redis, never the shared one), killed at the end."""
    import shutil

    if not shutil.which("redis-server"):
        if os.environ.get("CI"):
            pytest.fail("redis-server must be installed in CI (apt-get install redis-server)")
        pytest.skip("needs redis-server on the PATH")
    redis = OwnRedis().start()
    try:
        yield redis
    finally:
        with contextlib.suppress(ProcessLookupError):
            redis.resume()
        redis.kill()


@pytest.fixture
def broker_at(eager_celery):
    """Points the Celery app at a broker (not eager: requests publish as in production)."""
    from members import notify

    app = eager_celery
    saved = app.conf.broker_url

    def forget_connections():
        # The app keeps its connection pools: the next publish must open one to the new URL.
        app._pool = None
        app.amqp._producer_pool = None
        notify._Broker.down_until = 0.0

    def point(url: str):
        app.conf.update(task_always_eager=False, broker_url=url)
        forget_connections()
        return app

    yield point
    app.conf.update(broker_url=saved)
    forget_connections()


class TestTheBrokerIsUnreachable:
    def test_a_sign_up_succeeds_and_the_next_sweep_sends_its_confirmation_once(
        self, client, member, own_redis, broker_at, django_capture_on_commit_callbacks, caplog
    ):
        session = make_session(capacity=10)
        broker_at(own_redis.url)
        own_redis.kill()
        login(client, member)
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("events:signup", args=[session.pk]), {})
        assert time.monotonic() - started < 2
        assert response.status_code == 302
        registration = Registration.objects.get(person=member, session=session)
        assert registration.is_confirmed
        row = Notification.objects.get(kind="registration", person=member)
        assert row.occasion == f"events.registration:{registration.pk}"
        assert row.status == "queued"
        assert mail.outbox == []
        assert "Broker unreachable" in caplog.text
        assert sweep()["handled"] == 1
        assert sweep()["handled"] == 0
        [confirmation] = mail.outbox
        assert confirmation.to == [member.email]
        assert session.title in confirmation.subject
        assert confirmation.attachments[0][0] == "bijeenkomst.ics"
        row.refresh_from_db()
        assert row.status == "sent"
        assert row.written

    def test_a_cancellation_that_promotes_succeeds_and_the_promotion_is_sent_once(
        self, client, member, institution, own_redis, broker_at, django_capture_on_commit_callbacks
    ):
        from events import services
        from tests.factories import make_person

        session = make_session(capacity=1)
        waiting = make_person("Wachtende", "Jansen", institution, account=True)
        mine = services.register(member, session)
        services.register(waiting, session)
        sweep()
        mail.outbox.clear()
        broker_at(own_redis.url)
        own_redis.kill()
        login(client, member)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("events:cancel_registration", args=[mine.pk]), {"confirm": "1"}
            )
        assert response.status_code == 302
        assert Registration.objects.get(person=waiting).is_confirmed
        assert Notification.objects.get(kind="promotion", person=waiting).status == "queued"
        assert mail.outbox == []
        sweep()
        sweep()
        assert [m.to for m in mail.outbox] == [[waiting.email]]

    def test_a_sign_up_cancelled_before_its_confirmation_went_out_gets_none(
        self, client, member, own_redis, broker_at
    ):
        session = make_session(capacity=10)
        broker_at(own_redis.url)
        own_redis.kill()
        login(client, member)
        client.post(reverse("events:signup", args=[session.pk]), {})
        registration = Registration.objects.get(person=member)
        client.post(reverse("events:cancel_registration", args=[registration.pk]))
        assert sweep()["handled"] == 1
        assert mail.outbox == []
        assert not Notification.objects.filter(kind="registration").exists()


@pytest.fixture
def redis_cache(own_redis, settings):
    """The caches on our own Redis, as in production (REDIS_URL), with the same timeouts."""
    from kwaliteitsnetwerk import redis_cache

    options = {
        "socket_connect_timeout": settings.REDIS_TIMEOUT,
        "socket_timeout": settings.REDIS_TIMEOUT,
    }
    backend = "kwaliteitsnetwerk.redis_cache.FallbackRedisCache"
    settings.CACHES = {
        "default": {"BACKEND": backend, "LOCATION": own_redis.url, "OPTIONS": options},
        "fragments": {
            "BACKEND": backend,
            "LOCATION": own_redis.url,
            "OPTIONS": options,
            "KEY_PREFIX": "fragment:test",
        },
    }
    redis_cache._down_until.clear()
    yield own_redis
    redis_cache._down_until.clear()


def log_in(client, person, password=None):
    from tests.factories import PASSWORD

    return client.post(
        reverse("account_login"), {"login": person.email, "password": password or PASSWORD}
    )


class TestRedisIsGone:
    def test_logging_in_works_while_redis_is_dead_and_says_so_in_the_log(
        self, client, member, redis_cache, caplog
    ):
        redis_cache.kill()
        response = log_in(client, member)
        assert response.status_code == 302
        assert response["Location"] != reverse("account_login")
        assert client.get(reverse("home")).status_code == 200
        assert "Redis cache unreachable" in caplog.text
        assert "use this process's memory only" in caplog.text

    def test_the_rate_limit_still_holds_in_the_process_while_redis_is_dead(
        self, client, member, redis_cache
    ):
        redis_cache.kill()
        answers = [log_in(client, member, "fout-wachtwoord") for _attempt in range(6)]
        assert all(answer.status_code in (200, 429) for answer in answers)
        # Five failures per address in five minutes (ACCOUNT_RATE_LIMITS): the sixth is refused
        # even with the right password.
        assert log_in(client, member).status_code in (200, 429)
        assert "_auth_user_id" not in client.session

    def test_pages_sign_ups_and_cancellations_work_while_redis_is_dead(
        self, client, member, redis_cache, broker_at, django_capture_on_commit_callbacks
    ):
        session = make_session(capacity=10)
        broker_at(redis_cache.url)
        redis_cache.kill()
        login(client, member)
        assert client.get(reverse("home")).status_code == 200
        assert client.get(reverse("events:detail", args=[session.pk])).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(reverse("events:signup", args=[session.pk])).status_code == 302
        registration = Registration.objects.get(person=member)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("events:cancel_registration", args=[registration.pk]))
        assert response.status_code == 302
        registration.refresh_from_db()
        assert registration.is_cancelled

    def test_a_paused_redis_makes_no_request_take_longer_than_two_seconds(
        self, client, member, redis_cache, broker_at, django_capture_on_commit_callbacks, settings
    ):
        from django.core.cache import cache

        session = make_session(capacity=10)
        broker_at(redis_cache.url)
        assert client.get(reverse("account_login")).status_code == 200
        redis_cache.pause()  # SIGSTOP: it accepts connections and answers nothing
        took = {}

        def timed(name, call):
            started = time.monotonic()
            response = call()
            took[name] = time.monotonic() - started
            return response

        assert timed("login", lambda: log_in(client, member)).status_code == 302
        assert timed("home", lambda: client.get(reverse("home"))).status_code == 200
        detail = reverse("events:detail", args=[session.pk])
        assert timed("session", lambda: client.get(detail)).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            signup = timed(
                "sign-up", lambda: client.post(reverse("events:signup", args=[session.pk]))
            )
        assert signup.status_code == 302
        assert timed("session again", lambda: client.get(detail)).status_code == 200
        # The first call waited for the paused Redis (one timeout), the others did not ask.
        assert took["login"] >= settings.REDIS_TIMEOUT, took
        from kwaliteitsnetwerk import redis_cache as backend
        from members import notify

        # QUIET seconds later Redis is still paused (a 20 s pause spans two of them): asked
        # again, it costs one timeout again, never the length of the pause.
        backend._down_until.clear()
        notify._Broker.down_until = 0.0
        with django_capture_on_commit_callbacks(execute=True):
            cancel = timed(
                "cancel after quiet",
                lambda: client.post(
                    reverse(
                        "events:cancel_registration",
                        args=[Registration.objects.get(person=member).pk],
                    )
                ),
            )
        assert cancel.status_code == 302
        assert timed("home after quiet", lambda: client.get(reverse("home"))).status_code == 200
        assert max(took.values()) < 2, took
        assert Notification.objects.filter(kind="registration", person=member).exists()
        redis_cache.resume()
        backend._down_until.clear()  # QUIET seconds have passed
        cache.set("back", "yes")
        import redis

        assert redis.Redis.from_url(redis_cache.url).exists(":1:back")


class _SlowInbox:
    """An SMTP sink (aiosmtpd) that takes a few milliseconds per message, as a relay does."""

    def __init__(self):
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        import asyncio

        await asyncio.sleep(0.003)
        self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted"


# The figure is 3,000 reminders; the suite sends 300 (FAULT_SWEEP_SIZE=3000 for the
# full one: docs/architecture.md, "When a part fails", has the figures of a run).
FAULT_SWEEP_SIZE = int(os.environ.get("FAULT_SWEEP_SIZE", "300"))


@pytest.mark.postgres_only
def test_a_sender_killed_mid_sweep_doubles_at_most_the_message_in_flight(
    transactional_db, institution, settings, monkeypatch, capsys
):
    """A real sender process (`manage.py send_reminders`) sends FAULT_SWEEP_SIZE messages over
    SMTP to a sink and is killed with SIGKILL when over 40 % went out; the next sweep takes over
    its claim once CLAIM_TIMEOUT (a minute) has passed and sends the rest well within the
    second minute. Every recipient gets theirs, at most one gets two."""
    import datetime as dt

    import time_machine
    from aiosmtpd.controller import Controller
    from django.db import connection
    from django.utils import timezone

    from members import notify
    from members.models import Person
    from tests.clock import travelled

    size = FAULT_SWEEP_SIZE
    monkeypatch.setattr(notify, "_send_after_commit", lambda *a, **k: None)
    people = Person.objects.bulk_create(
        Person(
            first_name="Lid",
            last_name=f"Ontvanger{i}",
            email=f"lid.ontvanger{i}@example.org",
            institution=institution,
        )
        for i in range(size)
    )
    notify.queue_many(
        "session_invitation",
        [
            notify.Message(p, "events.session:1", {"session": {"title": "Dag"}, "when": "w"})
            for p in people
        ],
    )
    inbox, port = _SlowInbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": "",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
    }
    sender = subprocess.Popen(  # noqa: S603 - our own command line
        # At our clock's moment (tests/clock.py), so its claims are of the test's day.
        travelled(["manage.py", "send_reminders"]),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Past 40 %, in the middle of a chunk (at its end no claim is held: nothing to take over).
    kill_at = size * 2 // 5 + CHUNK // 3
    try:
        deadline = time.monotonic() + 60 + size / 20
        while len(inbox.recipients) < kill_at and time.monotonic() < deadline:
            time.sleep(0.005)
        sender.kill()  # SIGKILL: no clean-up of any kind
        sender.wait()
        received_before = len(inbox.recipients)
        assert kill_at <= received_before < size, received_before
        claims = dict(Notification.objects.filter(status="sending").values_list("pk", "claimed_at"))
        assert claims  # the dead sender's chunk
        # The worker restarts (a new process, as compose starts one); the beat's next outbox
        # sweep (OUTBOX_SWEEP_SECONDS) sends all that is not claimed (and the dead claim too,
        # should its minute pass meanwhile)...
        started = time.monotonic()
        subprocess.run(  # noqa: S603 - our own command line
            travelled(["manage.py", "send_reminders"]),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
            check=True,
        )
        first = time.monotonic() - started
        left = set(Notification.objects.exclude(status="sent").values_list("pk", flat=True))
        assert left <= set(claims)
        took = 0.0
        if left:
            # ...and the first one after the dead claim's minute takes it over.
            settings.MAILERS = {
                "default": {
                    "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
                }
            }
            later = max(claims.values()) + Notification.CLAIM_TIMEOUT + dt.timedelta(seconds=1)
            started = time.monotonic()
            with time_machine.travel(max(later, timezone.now()), tick=True):
                sweep()
            took = time.monotonic() - started
    finally:
        if sender.poll() is None:
            sender.kill()
        smtp.stop()
    recipients = inbox.recipients
    doubles = len(recipients) - len(set(recipients))
    tick = settings.OUTBOX_SWEEP_SECONDS
    outbox_sweep = settings.CELERY_BEAT_SCHEDULE["send-outbox"]
    assert outbox_sweep["task"] == "members.tasks.send_notifications"
    assert outbox_sweep["schedule"] == tick <= 30
    # From the restart: the first outbox sweep within a tick sends the unclaimed; the dead
    # claim (renewed until the kill) is free a minute after its last renewal, taken within a
    # tick after that, and sent.
    all_sent = max(tick + first, Notification.CLAIM_TIMEOUT.total_seconds() + tick + took)
    with capsys.disabled():
        print(
            f"\nkilled mid-sweep of {size}: {received_before} sent before the kill, "
            f"{len(recipients)} mails to {len(set(recipients))} recipients, {doubles} double; "
            f"after the restart the unclaimed sent in {first:.1f} s, the dead claim "
            f"({len(claims)}) taken over after its minute and sent in {took:.1f} s: all sent "
            f"within {all_sent:.0f} s of the restart (outbox sweep every {tick:.0f} s)"
        )
    assert sorted(set(recipients)) == sorted(p.email for p in people)
    assert doubles <= 1
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    # No claim was taken over before its minute had passed.
    sent_at = dict(Notification.objects.filter(pk__in=claims).values_list("pk", "sent_at"))
    assert all(sent_at[pk] >= claims[pk] + Notification.CLAIM_TIMEOUT for pk in claims)
    assert all_sent < 120


def database_env(**extra) -> dict:
    """The environment of a process of ours that works on the test database."""
    from django.db import connection

    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        **extra,
    }


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)


@pytest.mark.postgres_only
def test_a_worker_that_loses_redis_reconnects_and_sends_what_was_queued_meanwhile(
    transactional_db, member, own_redis, broker_at, tmp_path
):
    """A real Celery worker (prefork, as in compose) on our own Redis: Redis is killed, a
    sign-up answers and its confirmation waits in the outbox; Redis comes back on the same
    port, the worker reconnects by itself (it does not exit), and the beat's sweep it runs
    sends the confirmation exactly once."""

    from aiosmtpd.controller import Controller

    from members import notify

    session = make_session(capacity=10)
    inbox, port = _SlowInbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(  # noqa: S603 - our own command line
        # At our clock's moment (tests/clock.py): its sweep must see the test's sign-up as due.
        travelled(
            ["-m", "celery", "-A", "kwaliteitsnetwerk", "worker"]
            + ["--concurrency=1", "--loglevel=info", "--without-mingle", "--without-gossip"]
        ),
        cwd=ROOT,
        env=database_env(REDIS_URL=own_redis.url, EMAIL_PORT=str(port)),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: "ready." in log.read_text(), 60, "the worker starts")
        app = broker_at(own_redis.url)
        own_redis.kill()
        wait_for(lambda: "Connection to broker lost" in log.read_text(), 30, "the worker sees it")
        client = Client()
        login(client, member)
        response = client.post(reverse("events:signup", args=[session.pk]))
        assert response.status_code == 302
        row = Notification.objects.get(kind="registration", person=member)
        assert row.status == "queued"
        own_redis.start()  # the same port: Redis is back
        wait_for(
            lambda: log.read_text().count("Connected to redis") >= 2, 60, "the worker reconnects"
        )
        assert worker.poll() is None  # it reconnected; it did not exit
        broker_at(own_redis.url)  # the beat's sweep, published as the beat does
        app.send_task("members.tasks.sweep")
        wait_for(lambda: inbox.recipients, 30, "the confirmation is sent")
        app.send_task("members.tasks.sweep")
        notify.nudge([row.pk])
        wait_for(lambda: log.read_text().count("succeeded") >= 3, 30, "the worker ran them")
        assert inbox.recipients == [member.email]
        row.refresh_from_db()
        assert row.status == "sent"
        assert "AttributeError" not in log.read_text()
        assert worker.poll() is None
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
        smtp.stop()


@pytest.fixture
def database_gone():
    """The database's connection lost at the driver: every new cursor and every new connection
    raises psycopg's OperationalError, as when PostgreSQL stopped. (The shared PostgreSQL is
    never stopped; this test's own transaction stays intact beneath.)"""
    import psycopg

    def refused(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    @contextlib.contextmanager
    def gone(client=None):
        if client is not None:
            client.raise_request_exception = False  # answered as in production
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(psycopg.Connection, "cursor", refused)
            patch.setattr(psycopg.Connection, "connect", classmethod(refused))
            yield

    return gone


class TestTheDatabaseIsGone:
    def assert_calm(self, response):
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        page = response.content.decode()
        assert "Even niet bereikbaar" in page
        assert "Probeer het over een minuut opnieuw" in page
        assert "Er ging iets mis" not in page  # not the error page
        assert "Traceback" not in page
        assert "OperationalError" not in page

    def test_a_visitor_gets_the_calm_page(self, client, member, database_gone):
        with database_gone(client):
            self.assert_calm(client.get(reverse("coalitions:library")))
            self.assert_calm(log_in(client, member))

    def test_a_logged_in_member_gets_the_calm_page_also_for_a_sign_up(
        self, client, member, database_gone
    ):
        session = make_session(capacity=10)
        login(client, member)
        with database_gone(client):
            self.assert_calm(client.get(reverse("home")))
            self.assert_calm(client.get(reverse("events:detail", args=[session.pk])))
            self.assert_calm(client.post(reverse("events:signup", args=[session.pk])))
            self.assert_calm(
                client.post(
                    reverse("events:signup", args=[session.pk]), headers={"HX-Request": "true"}
                )
            )
        assert not Registration.objects.exists()
        assert client.get(reverse("home")).status_code == 200  # back again

    def test_logging_in_gets_the_calm_page(self, client, member, database_gone):
        with database_gone(client):
            self.assert_calm(log_in(client, member))

    def test_other_errors_still_get_the_error_page(self, client, member, monkeypatch):
        from kwaliteitsnetwerk import views

        def broken(person):
            raise RuntimeError("a bug")

        monkeypatch.setattr(views.overview, "member_overview", broken)
        client.raise_request_exception = False
        login(client, member)
        response = client.get(reverse("home"))
        assert response.status_code == 500
        assert "Er ging iets mis" in response.content.decode()
        assert "Retry-After" not in response

    def test_healthz_says_the_database_is_down(self, client, db, database_gone, settings):
        settings.REDIS_URL = ""
        with database_gone():
            response = client.get(reverse("healthz"))
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        answer = response.json()
        assert answer["down"] == ["database"]
        assert answer["database"] == "error: OperationalError"
        assert client.get(reverse("healthz")).json()["down"] == []

    def test_healthz_says_redis_is_down(self, client, db, own_redis, settings):
        settings.REDIS_URL = own_redis.url
        assert client.get(reverse("healthz")).json()["down"] == []
        own_redis.pause()
        started = time.monotonic()
        response = client.get(reverse("healthz"))
        assert time.monotonic() - started < 2
        assert response.status_code == 503
        assert response.json()["down"] == ["broker"]
        assert response.json()["database"] == "ok"
