import datetime as dt
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.urls import reverse

from members import services
from members.models import Invitation, User
from tests.clock import travelled
from tests.conftest import login
from tests.factories import make_person

ROOT = Path(__file__).resolve().parents[2]


def link_from(message) -> str:
    return re.search(r"https?://\S+/uitnodiging/\S+/", message.body).group(0)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def contact(institution):
    """Eva is registered by the bureau but has no account yet."""
    return make_person("Eva", "Bos", institution, email="eva@deltion.example")


class TestInviting:
    def test_bureau_staff_invite_a_contact_by_email(
        self, client, bureau, contact, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = login(client, bureau).post(
                reverse("members:person_invite", args=[contact.pk]), {"message": "Welkom!"}
            )
        assert response.status_code == 302
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["eva@deltion.example"]
        assert "Welkom!" in message.body
        assert "14 dagen" in message.body
        assert contact.invitations.open().count() == 1

    def test_following_the_link_makes_a_verified_account_and_logs_in(
        self, client, contact, bureau, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.invite(contact, invited_by=bureau)
        url = path_of(link_from(mail.outbox[0]))
        assert "Eva" in client.get(url).content.decode()
        response = client.post(
            url, {"password1": "een-sterk-wachtwoord-7", "password2": "een-sterk-wachtwoord-7"}
        )
        assert response.status_code == 302
        contact.refresh_from_db()
        assert contact.user.email == "eva@deltion.example"
        assert contact.user.emailaddress_set.get().verified
        assert client.get(reverse("home")).status_code == 200  # logged in
        assert client.login(email="eva@deltion.example", password="een-sterk-wachtwoord-7")

    def test_a_link_works_once(self, client, contact):
        _invitation, token = services.invite(contact, invited_by=None)
        url = reverse("members:accept_invitation", args=[token])
        client.post(
            url, {"password1": "een-sterk-wachtwoord-7", "password2": "een-sterk-wachtwoord-7"}
        )
        client.logout()
        response = client.post(
            url, {"password1": "ander-wachtwoord-99", "password2": "ander-wachtwoord-99"}
        )
        assert response.status_code == 410
        assert "al gebruikt" in response.content.decode()
        assert client.login(email="eva@deltion.example", password="een-sterk-wachtwoord-7")

    def test_a_link_expires_after_14_days_and_a_new_one_can_be_asked(
        self, client, contact, django_capture_on_commit_callbacks
    ):
        with (
            time_machine.travel(dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            _invitation, token = services.invite(contact, invited_by=None)
        url = reverse("members:accept_invitation", args=[token])
        with time_machine.travel(dt.datetime(2026, 11, 14, 10, tzinfo=dt.UTC), tick=False):
            assert client.get(url).status_code == 200
        with time_machine.travel(dt.datetime(2026, 11, 15, 10, 1, tzinfo=dt.UTC), tick=False):
            response = client.get(url)
            assert response.status_code == 410
            assert "verlopen" in response.content.decode()
            with django_capture_on_commit_callbacks(execute=True):
                client.post(reverse("members:request_new_invitation", args=[token]))
            assert len(mail.outbox) == 2
            new_url = path_of(link_from(mail.outbox[1]))
            assert mail.outbox[1].to == ["eva@deltion.example"]
            assert client.get(new_url).status_code == 200

    def test_inviting_again_replaces_the_old_link(self, client, contact):
        _first, old_token = services.invite(contact, invited_by=None)
        _second, new_token = services.invite(contact, invited_by=None)
        response = client.get(reverse("members:accept_invitation", args=[old_token]))
        assert response.status_code == 410
        assert "nieuwere uitnodiging" in response.content.decode()
        assert client.get(reverse("members:accept_invitation", args=[new_token])).status_code == 200
        assert Invitation.objects.open().filter(person=contact).count() == 1

    def test_an_unknown_link_says_so_in_dutch(self, client, db):
        response = client.get(reverse("members:accept_invitation", args=["onzin"]))
        assert response.status_code == 404
        assert "We kennen deze link niet" in response.content.decode()

    def test_a_weak_password_is_refused_beside_the_field(self, client, contact):
        _invitation, token = services.invite(contact, invited_by=None)
        response = client.post(
            reverse("members:accept_invitation", args=[token]),
            {"password1": "123", "password2": "123"},
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert 'id="id_password1_error"' in body
        assert not User.objects.filter(email="eva@deltion.example").exists()

    def test_the_mail_is_not_sent_for_a_replaced_invitation(self, contact):
        _first, first_token = services.invite(contact, invited_by=None)
        _second, token = services.invite(contact, invited_by=None)
        from members.tasks import deliver

        mail.outbox.clear()
        assert deliver() == 1
        [message] = mail.outbox
        assert token in message.body
        assert first_token not in message.body


@pytest.mark.postgres_only
def test_a_real_worker_on_redis_sends_the_invitation(
    transactional_db, contact, tmp_path, eager_celery, redis_url
):
    """End to end: the web process enqueues on Redis, a real Celery worker sends the mail."""
    app = eager_celery
    app.conf.update(task_always_eager=False, broker_url=redis_url)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path),
    }
    queue = f"test-{os.getpid()}"
    app.conf.task_default_queue = queue
    # At our clock's moment (tests/clock.py): the invitation's dates are of the test's day.
    worker = subprocess.Popen(
        travelled(
            [
                "-m",
                "celery",
                "-A",
                "kwaliteitsnetwerk",
                "worker",
                "-Q",
                queue,
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ]
        ),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _invitation, token = services.invite(contact, invited_by=None)
        deadline = time.monotonic() + 60
        sent = []
        while time.monotonic() < deadline and not sent:
            sent = list(tmp_path.glob("*.log"))
            time.sleep(0.5)
        assert sent, "the worker sent no mail within 60 s"
        body = sent[0].read_text()
        assert "eva@deltion.example" in body
        assert token in body
    finally:
        app.conf.task_default_queue = "celery"
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_the_beat_sweep_sends_a_lost_notification_once(contact):
    import datetime as dt

    from django.utils import timezone

    from members.models import Notification
    from members.tasks import sweep

    Notification.objects.create(
        kind="test",
        person=contact,
        occasion="x",
        subject="Onderwerp",
        body="Tekst",
        created_at=timezone.now() - dt.timedelta(minutes=10),
    )
    # Claimed 20 s ago by a worker that is still at it (a live one renews its claim that
    # often; Notification.CLAIM_TIMEOUT is a minute): not this sweep's to send.
    Notification.objects.create(
        kind="test",
        person=contact,
        occasion="y",
        subject="Onderweg",
        body="Tekst",
        status=Notification.Status.SENDING,
        claimed_at=timezone.now() - dt.timedelta(seconds=20),
    )
    assert sweep()["handled"] == 1
    assert sweep()["handled"] == 0  # a second beat finds nothing left
    assert [m.subject for m in mail.outbox] == ["Onderwerp"]
