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


def test_one_time_format_in_dutch_wherever_django_writes_a_time(settings):
    from django.template import Context, Template
    from django.utils import translation

    moment = dt.datetime(2026, 11, 18, 8, 30, tzinfo=dt.UTC)  # 09.30 in Amsterdam
    with translation.override("nl"):
        text = Template("{{ m|time }} {{ m }} {{ m|date:'SHORT_DATETIME_FORMAT' }}").render(
            Context({"m": moment})
        )
    assert text.count("09.30") == 3
    assert "09:30" not in text


def test_the_theme_round_writes_its_closing_time_the_dutch_way(client, member, bureau):
    from django.utils import timezone

    from coalitions import services

    now = timezone.now()
    theme_round = services.open_round(
        by=bureau,
        school_year="2031-2032",
        opens_at=now - dt.timedelta(days=1),
        closes_at=timezone.make_aware(dt.datetime(2031, 1, 31, 17, 0)),
        votes_per_person=3,
        introduction="",
    )
    body = login(client, member).get(reverse("coalitions:round", args=[theme_round.pk]))
    body = body.content.decode()
    assert "31 januari 2031, 17.00" in body
    assert "17:00" not in body


def test_my_own_cancellation_reads_afgemeld(client, member, db):
    from events import services
    from tests.events.conftest import make_session

    session = make_session()
    registration = services.register(member, session)
    services.cancel(registration, by=member)
    body = login(client, member).get(reverse("my_registrations")).content.decode()
    assert "Afgemeld" in body
    assert "Geannuleerd" not in body


def test_institution_types_are_written_as_proper_names(client, bureau, db):
    from tests.factories import make_institution

    make_institution("ROC Nijmegen", kind="roc")
    make_institution("Yuverta", kind="aoc")
    make_institution("Cibap", kind="vakinstelling")
    body = login(client, bureau).get(reverse("members:institution_list")).content.decode()
    assert "<td>ROC</td>" in body
    assert "<td>AOC</td>" in body
    assert "<td>Vakinstelling</td>" in body
    assert "<td>roc</td>" not in body


def test_signing_up_speaks_our_dutch(client, institution):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "noor@deltion.example",
            "password1": "een-goed-wachtwoord-42",
            "password2": "een-goed-wachtwoord-42",
            "first_name": "Noor",
            "last_name": "de Groot",
        },
        follow=True,
    )
    body = response.content.decode()
    assert "Bevestigingsmail verstuurd naar noor@deltion.example" in body
    assert "Bevestigings e-mail" not in body
    assert "bevestigingsmail gestuurd" in body
    assert "a.u.b." not in body


def test_setting_up_two_factor_speaks_our_dutch(client, bureau):
    from tests.factories import PASSWORD

    login(client, bureau)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    body = client.get(reverse("mfa_activate_totp")).content.decode()
    assert "QR-code" in body
    assert "verificatiecode" in body
    for stock in ("QR code", "verificatie code", "alstublieft", "Activeer authenticator-app"):
        assert stock not in body


def test_the_ring_board_says_the_minimum_in_members_and_institutions_only_when_there_are_some(
    client, lead, institution
):
    coalition = lead.led_coalitions.get()
    kern, flex = coalition.rings.get(order=1), coalition.rings.get(order=2)
    make_membership(make_person("Fleur", "Flex", institution), flex)
    body = login(client, lead).get(reverse("coalitions:board", args=[coalition.pk]))
    body = body.content.decode()
    kern_card = body[body.index(f'id="board-ring-{kern.pk}"') :]
    kern_card = kern_card[: kern_card.index("</p>", kern_card.index("</p>") + 1)]
    assert "minder dan het minimum van 5 leden" in kern_card
    assert "0 instellingen" not in kern_card
    assert "uit 1 instelling" in body  # the flexible ring: one member from one institution


def test_a_ring_output_is_for_this_ring_and_those_closer_to_the_core(db):
    from django.utils import translation

    from coalitions.models import Output

    with translation.override("nl"):
        label = str(Output.Visibility.RING.label)
    assert label == "Deze ring en de ringen dichter bij de kern"


def test_a_member_is_offered_only_the_mails_that_can_reach_them(client, member, lead):
    body = login(client, member).get(reverse("members:my_account")).content.decode()
    for leads_only in (
        'name="membership_request"',
        'name="input_new"',
        'name="coalition_ending"',
        'name="ring_below_minimum"',
        'name="ring_agreement_summary"',
        'name="round_closing"',
        'name="evaluation_due"',
    ):
        assert leads_only not in body, leads_only
    assert 'name="session_reminder"' in body
    assert 'name="ring_invitation"' in body
    body = login(client, lead).get(reverse("members:my_account")).content.decode()
    for leads_only in (
        'name="membership_request"',
        'name="input_new"',
        'name="coalition_ending"',
        'name="evaluation_due"',
    ):
        assert leads_only in body, leads_only
    assert 'name="round_closing"' not in body  # not an ambassador


def test_a_member_saving_their_choices_leaves_the_hidden_ones_alone(client, member):
    from members import notify

    login(client, member).post(
        reverse("members:my_account"), {"form": "mail", "session_reminder": "on"}
    )
    prefs = notify.preferences(member)
    assert prefs["membership_request"] is True  # not offered, not turned off
    assert prefs["weekly_digest"] is False
