"""Every `next` parameter that is not a local address falls back to a page of ours, never an
error and never elsewhere (kwaliteitsnetwerk.redirects, the one rule)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import Notification
from tests.conftest import login
from tests.factories import PASSWORD

UNSAFE = ["//evil.example", "https://evil.example/x", "javascript:alert(1)", "\\\\evil.example"]


def _lands_home(response, default="/"):
    assert response.status_code == 302
    location = response["Location"]
    assert "evil" not in location
    assert "javascript" not in location
    assert location == default


@pytest.mark.parametrize("target", UNSAFE)
def test_the_language_switch_falls_back_home(client, db, target):
    _lands_home(client.post(reverse("set_language"), {"language": "en", "next": target}))


def test_the_one_rule_refuses_what_is_not_local(rf):
    from kwaliteitsnetwerk.redirects import safe_next

    request = rf.get("/")
    for target in [*UNSAFE, "", None, "http://testserver.evil.example/"]:
        assert safe_next(request, target) == "/"
    assert safe_next(request, "/coalities/?q=data") == "/coalities/?q=data"


def test_the_language_switch_follows_a_local_next(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/sessies/"})
    assert response["Location"] == "/sessies/"


@pytest.mark.parametrize("target", UNSAFE)
def test_logging_in_with_a_foreign_next_lands_on_the_overview(client, member, target):
    response = client.post(
        reverse("account_login") + "?next=" + target,
        {"login": member.email, "password": PASSWORD, "next": target},
    )
    _lands_home(response)


def test_logging_in_follows_a_local_next(client, member):
    response = client.post(
        reverse("account_login"),
        {"login": member.email, "password": PASSWORD, "next": "/sessies/"},
    )
    assert response["Location"] == "/sessies/"


@pytest.mark.parametrize("target", UNSAFE)
def test_resending_a_message_returns_to_the_outbox(client, bureau, member, target):
    row = Notification.objects.create(
        kind="membership_decision",
        person=member,
        occasion="t",
        subject="s",
        body="b",
        status=Notification.Status.SENT,
        sent_at=timezone.now(),
    )
    response = login(client, bureau).post(
        reverse("members:outbox_resend", args=[row.pk]), {"next": target}
    )
    _lands_home(response, reverse("members:outbox"))
