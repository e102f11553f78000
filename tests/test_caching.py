"""Cached fragments (kwaliteitsnetwerk.caching): keyed by the versions the services move in the
change's own transaction; never shared across languages, days or CSRF tokens; off with a dummy
cache; rendered without keeping when the cache does not answer."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import caches
from django.db import transaction
from django.template import Context, Template
from django.test import override_settings
from django.utils import timezone, translation

from coalitions import services as coalition_services
from coalitions.models import Coalition
from kwaliteitsnetwerk import caching
from members import activity
from tests.factories import make_coalition, make_membership, make_person

pytestmark = pytest.mark.django_db

TEMPLATE = Template(
    '{% load caching %}{% cached "names" key %}'
    "{% for c in coalitions %}{{ c.name }};{% endfor %}{% endcached %}"
)


def render(**context):
    coalitions = Coalition.objects.order_by("name")
    key = caching.key("test", caching.versions_of(coalitions))
    return TEMPLATE.render(Context({"coalitions": coalitions, "key": key, **context}))


class TestVersions:
    def test_a_logged_change_moves_the_version_of_its_target_and_scope(self, institution):
        coalition = make_coalition("Data 3.0")
        lead = make_person("Lea", "Trekker", institution)
        membership = make_membership(lead, coalition.rings.order_by("order").first())
        before = Coalition.objects.get(pk=coalition.pk).version
        activity.log("membership.joined", by=lead, target=membership, person=lead, scope=coalition)
        assert Coalition.objects.get(pk=coalition.pk).version == before + 1
        person_before = type(lead).objects.get(pk=lead.pk).version
        activity.log("person.created", by=None, target=lead, person=lead)
        assert type(lead).objects.get(pk=lead.pk).version == person_before + 1

    def test_a_rolled_back_change_takes_its_version_back(self):
        coalition = make_coalition("Data 3.0")
        before = Coalition.objects.get(pk=coalition.pk).version

        class Stop(Exception):
            pass

        def change_and_stop():
            with transaction.atomic():
                coalition_services.update_coalition(coalition, by=None, name="Data 4.0")
                assert Coalition.objects.get(pk=coalition.pk).version == before + 1
                raise Stop

        with pytest.raises(Stop):
            change_and_stop()
        assert Coalition.objects.get(pk=coalition.pk).version == before

    def test_versions_of_moves_with_any_change_addition_or_removal(self):
        first = make_coalition("Alfa")
        make_coalition("Bravo")
        seen = [caching.versions_of(Coalition.objects.all())]
        coalition_services.update_coalition(first, by=None, name="Alfa 2")
        seen.append(caching.versions_of(Coalition.objects.all()))
        third = make_coalition("Charlie")
        seen.append(caching.versions_of(Coalition.objects.all()))
        assert len(set(seen)) == 3
        third.delete()  # the same rows as before Charlie: the same versions, the same page
        assert caching.versions_of(Coalition.objects.all()) == seen[1]


class TestCachedTag:
    def test_rendered_once_and_rendered_again_after_a_change(self, django_assert_num_queries):
        coalition = make_coalition("Alfa")
        assert render() == "Alfa;"
        with django_assert_num_queries(1):  # the versions only
            assert render() == "Alfa;"
        coalition_services.update_coalition(coalition, by=None, name="Bravo")
        assert render() == "Bravo;"

    def test_each_language_and_day_has_its_own(self):
        first = caching.key("names", "1.1.1")
        assert caching.key("names", "1.1.2") != first
        with translation.override("en"):
            assert caching.key("names", "1.1.1") != first
        with time_machine.travel(timezone.now() + dt.timedelta(days=1)):
            assert caching.key("names", "1.1.1") != first
        assert caching.key("names", "1.1.1") == first

    def test_each_viewer_gets_their_own_csrf_token(self):
        template = Template(
            '{% load caching %}{% cached "form" "k" %}<form>{% csrf_token %}</form>{% endcached %}'
        )
        alice = template.render(Context({"csrf_token": "token-of-alice"}))
        bob = template.render(Context({"csrf_token": "token-of-bob"}))
        assert "token-of-alice" in alice
        assert "token-of-bob" not in alice
        assert "token-of-bob" in bob
        assert "token-of-alice" not in bob

    def test_an_empty_key_is_never_kept(self):
        template = Template('{% load caching %}{% cached "typed" key %}{{ text }}{% endcached %}')
        assert template.render(Context({"key": "", "text": "one"})) == "one"
        assert template.render(Context({"key": "", "text": "two"})) == "two"

    def test_a_cache_that_does_not_answer_renders_without_keeping(self):
        make_coalition("Alfa")
        unreachable = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "fragments": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
                "OPTIONS": {"socket_connect_timeout": 0.2},
            },
        }
        with override_settings(CACHES=unreachable):
            assert render() == "Alfa;"

    def test_switched_off_it_renders_every_time(self, django_assert_num_queries):
        make_coalition("Alfa")
        off = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "fragments": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        }
        with override_settings(CACHES=off):
            render()
            with django_assert_num_queries(2):  # the versions and the list
                assert render() == "Alfa;"
            assert caches["fragments"].get("anything") is None


class TestCachedPages:
    def test_text_people_write_never_receives_a_token(self):
        """The CSRF mark is made per rendering: a link someone typed with a mark-like text stays
        as typed, and the form beside it gets this response's token."""
        template = Template(
            '{% load caching %}{% cached "form" "k" %}<a href="{{ link }}">x</a>'
            "<form>{% csrf_token %}</form>{% endcached %}"
        )
        link = "https://evil.example/?x=kn-csrf-token-of-this-response"
        html = template.render(Context({"csrf_token": "TOKEN123", "link": link}))
        again = template.render(Context({"csrf_token": "OTHER456", "link": "changed"}))
        assert "kn-csrf-token-of-this-response" in html
        assert "TOKEN123" not in html.split("<form>")[0]
        assert 'value="TOKEN123"' in html
        assert 'value="OTHER456"' in again  # cached: the same HTML, this response's token
        assert "evil.example" in again

    def test_pages_render_when_the_cache_does_not_answer(self, client, lead, settings):
        coalition = lead.led_coalitions.get()
        settings.CACHES = {
            **settings.CACHES,
            "fragments": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            },
        }
        client.force_login(lead.user)
        for url in (f"/coalities/{coalition.pk}/", f"/coalities/{coalition.pk}/ringen/"):
            response = client.get(url)
            assert response.status_code == 200
            assert coalition.name in response.content.decode()

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
        open_ring = coalition.rings.get(order=2)
        coalition_services.join_ring(make_person("Nora", "Nieuw", institution), open_ring)
        body = client.get(url).content.decode()
        assert "Nora Nieuw" in body
        # A second visitor reads the cached board: its forms carry that visitor's own token.
        other = Client(enforce_csrf_checks=True)
        other.force_login(lead.user)
        cached = other.get(url).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', cached).group(1)
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

    def test_the_board_shows_an_invitation_error_beside_its_field(self, client, lead):
        coalition = lead.led_coalitions.get()
        client.force_login(lead.user)
        url = f"/coalities/{coalition.pk}/ringen/uitnodigen/"
        response = client.post(url, {"email": "", "ring": coalition.rings.get(order=1).pk})
        assert response.status_code == 400
        body = response.content.decode()
        # The error sits in the form, beside the address field, and the board is still there.
        form = body.split('id="invite-heading"')[1]
        assert "Dit veld is verplicht" in form
        assert 'class="message message-error" role="alert"' in form
        assert "Kern" in body.split('id="invite-heading"')[0]
        assert coalition.memberships.count() == 0  # nothing was made
        # With htmx the board comes back in place, with the same error beside the field.
        again = client.post(
            url,
            {"email": "niet-een-adres", "ring": coalition.rings.get(order=1).pk},
            HTTP_HX_REQUEST="true",
        )
        assert again.status_code == 200
        assert 'id="board"' in again.content.decode()
        assert "Voer een geldig e-mailadres in" in again.content.decode()
        assert 'value="niet-een-adres"' in again.content.decode()
