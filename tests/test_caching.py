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
        activity.log(
            "membership.joined", by=lead, target=membership, person=lead, scope=coalition
        )
        assert Coalition.objects.get(pk=coalition.pk).version == before + 1
        person_before = type(lead).objects.get(pk=lead.pk).version
        activity.log("person.created", by=None, target=lead, person=lead)
        assert type(lead).objects.get(pk=lead.pk).version == person_before + 1

    def test_a_rolled_back_change_takes_its_version_back(self):
        coalition = make_coalition("Data 3.0")
        before = Coalition.objects.get(pk=coalition.pk).version

        class Stop(Exception):
            pass

        with pytest.raises(Stop), transaction.atomic():
            coalition_services.update_coalition(coalition, by=None, name="Data 4.0")
            assert Coalition.objects.get(pk=coalition.pk).version == before + 1
            raise Stop
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
        assert "token-of-alice" in alice and "token-of-bob" not in alice
        assert "token-of-bob" in bob and "token-of-alice" not in bob

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

