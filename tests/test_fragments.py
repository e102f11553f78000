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
from tests.factories import make_coalition, make_institution

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
