"""Kept fragments (members.fragments): rendered once, replaced at once when their data
changes, never shared across languages, dates or CSRF tokens."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone, translation

from members import fragments
from members.models import Institution
from tests.factories import make_coalition, make_institution, make_membership, make_person

pytestmark = pytest.mark.django_db

TEMPLATE = Template(
    '{% load fragments %}{% kept "names" "members" kind %}'
    "{% for i in institutions %}{{ i.name }};{% endfor %}{% endkept %}"
)


def render(kind="roc"):
    return TEMPLATE.render(
        Context({"institutions": Institution.objects.order_by("name"), "kind": kind})
    )


class TestKept:
    def test_rendered_once_and_replaced_when_its_data_changes(self, django_assert_num_queries):
        make_institution("Alfa College")
        with django_assert_num_queries(1):
            assert render() == "Alfa College;"
        with django_assert_num_queries(0):
            assert render() == "Alfa College;"
        make_institution("Bravo College")
        assert render() == "Alfa College;Bravo College;"
        Institution.objects.filter(name="Bravo College").get().delete()
        assert render() == "Alfa College;"

    def test_a_change_in_another_area_keeps_it(self, django_assert_num_queries):
        make_institution("Alfa College")
        render()
        members, coalitions = fragments.versions(["members"]), fragments.versions(["coalitions"])
        make_coalition("Data 2.0")  # no leads: nothing of members changes
        assert fragments.versions(["members"]) == members
        assert fragments.versions(["coalitions"]) != coalitions
        with django_assert_num_queries(0):
            render()

    def test_each_vary_value_and_language_and_day_has_its_own(self):
        make_institution("Alfa College")
        first = fragments.key_for("names", ["members"], ["roc"])
        assert fragments.key_for("names", ["members"], ["aoc"]) != first
        with translation.override("en"):
            assert fragments.key_for("names", ["members"], ["roc"]) != first
        with time_machine.travel(timezone.now() + dt.timedelta(days=1)):
            assert fragments.key_for("names", ["members"], ["roc"]) != first
        assert fragments.key_for("names", ["members"], ["roc"]) == first

    def test_a_raw_update_shows_when_the_fragment_expires(self):
        make_institution("Alfa College")
        assert render() == "Alfa College;"
        Institution.objects.filter(name="Alfa College").update(name="Albeda")
        assert render() == "Alfa College;"
        with time_machine.travel(
            timezone.now() + dt.timedelta(seconds=settings.FRAGMENTS_KEPT + 1), tick=False
        ):
            assert render() == "Albeda;"

    def test_the_counter_moves_again_when_the_transaction_commits(
        self, django_capture_on_commit_callbacks
    ):
        """A page rendered between the change and the commit sees the old data: it is kept
        under a counter that the commit moves past."""
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                make_institution("Alfa College")
                during = fragments.versions(["members"])
            assert fragments.versions(["members"]) == during
        assert fragments.versions(["members"]) != during

    def test_unknown_areas_are_refused(self):
        with pytest.raises(ValueError, match="Unknown areas"):
            fragments.versions(["everything"])

    def test_each_response_gets_its_own_csrf_token(self):
        template = Template(
            '{% load fragments %}{% kept "form" "members" %}<form>{% csrf_token %}</form>{% endkept %}'
        )
        from django.middleware.csrf import get_token

        outputs = []
        for _ in range(2):
            request = RequestFactory().get("/")
            token = get_token(request)
            html = template.render(Context({"csrf_token": token}))
            assert f'value="{token}"' in html
            outputs.append(html)
        assert outputs[0] != outputs[1]
        assert "kn-csrf" not in outputs[0]


class TestWhatTheReviewFound:
    def test_text_people_write_never_receives_a_token(self):
        """The CSRF mark is made per rendering: a link someone typed with the old fixed mark in
        it stays as typed, and the form beside it gets this response's token."""
        template = Template(
            '{% load fragments %}{% kept "form" "members" %}<a href="{{ link }}">x</a>'
            "<form>{% csrf_token %}</form>{% endkept %}"
        )
        link = "https://evil.example/?x=kn-csrf-token-of-this-response"
        html = template.render(Context({"csrf_token": "TOKEN123", "link": link}))
        again = template.render(Context({"csrf_token": "OTHER456", "link": "changed"}))
        assert "kn-csrf-token-of-this-response" in html
        assert "TOKEN123" not in html.split("<form>")[0]
        assert 'value="TOKEN123"' in html
        assert 'value="OTHER456"' in again  # kept: the same HTML, this response's token
        assert "evil.example" in again

    def test_pages_render_when_the_cache_does_not_answer(self, client, member, settings):
        from tests.conftest import login

        make_coalition("Zonder cache")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            }
        }
        settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
        login(client, member)
        response = client.get("/coalities/")
        assert response.status_code == 200
        assert "Zonder cache" in response.content.decode()

    def test_a_login_moves_nothing(self, member):
        from django.contrib.auth.signals import user_logged_in
        from django.test import RequestFactory

        before = fragments.versions(["members"])
        request = RequestFactory().get("/")
        request.session = {}
        user_logged_in.send(sender=type(member.user), request=request, user=member.user)
        assert fragments.versions(["members"]) == before
        member.user.save()  # any other change to the account does
        assert fragments.versions(["members"]) != before


class TestOnRedis:
    """The production cache: the counters move in one pipeline, a missing one starts from the
    clock (never again at a number once used), and fragments are shared between processes."""

    @pytest.fixture
    def redis_cache(self, settings, redis_url):
        from django.core.cache import caches

        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url.rsplit("/", 1)[0] + "/13",
                "KEY_PREFIX": "kn-test-fragments",
            }
        }
        caches["default"].clear()
        yield caches["default"]
        caches["default"].clear()

    def test_counters_move_and_restart_from_the_clock(self, redis_cache):
        first = int(fragments.versions(["events"]))
        assert first > 10**15  # microseconds since 1970: started from the clock
        fragments.changed("events", "registrations")
        assert int(fragments.versions(["events"])) == first + 1
        redis_cache.delete("fresh:events")  # evicted
        assert int(fragments.versions(["events"])) > first + 1

    def test_a_kept_fragment_is_replaced_after_a_change(self, redis_cache):
        make_institution("Alfa College")
        assert render() == "Alfa College;"
        assert redis_cache.get(fragments.key_for("names", ["members"], ["roc"])) is not None
        make_institution("Bravo College")
        assert render() == "Alfa College;Bravo College;"


class TestPages:
    """Each kept page shows a change at once (the areas it names are the ones it shows)."""

    def test_the_directory_shows_a_new_coalition(self, client, member):
        from tests.conftest import login

        login(client, member)
        assert "Nieuwe coalitie" not in client.get("/coalities/").content.decode()
        make_coalition("Nieuwe coalitie")
        assert "Nieuwe coalitie" in client.get("/coalities/").content.decode()

    def test_the_ring_board_shows_a_new_member_and_each_response_its_own_token(
        self, lead, institution
    ):
        import re

        from django.test import Client

        coalition = lead.led_coalitions.get()
        url = f"/coalities/{coalition.pk}/ringen/"
        client = Client(enforce_csrf_checks=True)
        client.force_login(lead.user)
        assert "Nora Nieuw" not in client.get(url).content.decode()
        make_membership(make_person("Nora", "Nieuw", institution), coalition.rings.get(order=2))
        body = client.get(url).content.decode()
        assert "Nora Nieuw" in body
        assert "kn-csrf" not in body
        # A second visitor reads the kept board: its forms carry that visitor's own token.
        other = Client(enforce_csrf_checks=True)
        other.force_login(lead.user)
        kept = other.get(url).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', kept).group(1)
        answer = other.post(
            f"/coalities/{coalition.pk}/ringen/uitnodigen/", {"csrfmiddlewaretoken": token}
        )
        assert answer.status_code != 403
        stranger = Client(enforce_csrf_checks=True)
        stranger.force_login(lead.user)
        stranger.get("/")
        refused = stranger.post(
            f"/coalities/{coalition.pk}/ringen/uitnodigen/", {"csrfmiddlewaretoken": token}
        )
        assert refused.status_code == 403

    def test_the_overview_shows_a_new_invitation_and_sign_up(self, client, member, institution):
        from events import services
        from events.models import Session
        from tests.conftest import login
        from tests.events.conftest import make_session

        login(client, member)
        assert "Kennisdag" not in client.get("/").content.decode()
        session = make_session(title="Kennisdag", kind=Session.Kind.NETWORK)
        assert "Kennisdag" in client.get("/").content.decode()
        services.register(member, session)
        assert "Je bent aangemeld" in client.get("/").content.decode()

    def test_the_people_list_shows_a_new_person(self, client, bureau, institution):
        from tests.conftest import login

        login(client, bureau)
        assert "Zeldzaam" not in client.get("/personen/").content.decode()
        make_person("Zoë", "Zeldzaam", institution)
        assert "Zeldzaam" in client.get("/personen/").content.decode()
