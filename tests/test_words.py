"""Words that read well: one time format, proper names, our own voice on the account pages."""

import datetime as dt

import time_machine
from django.urls import reverse

from tests.conftest import login
from tests.factories import make_coalition, make_membership, make_person

NOON = dt.datetime(2026, 11, 18, 11, 0, tzinfo=dt.UTC)


def test_a_new_account_reads_nothing_new_since_the_day_it_began(client, institution):
    with time_machine.travel(NOON, tick=False):
        newcomer = make_person("Nora", "Nieuw", institution, account=True)
        make_membership(newcomer, make_coalition("Burgerschap").rings.get(order=2))
        body = login(client, newcomer).get(reverse("home")).content.decode()
    assert "Niets nieuws sinds 18 november" in body
    assert "4 november" not in body
