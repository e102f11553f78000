"""What the browser tour found in words and small things (issue 11): Dutch that reads as Dutch,
no invitation badge on past sessions, a way into the public library and back, a favicon."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Session
from tests.conftest import login
from tests.events.conftest import make_session


def test_a_short_password_is_refused_in_dutch(client, institution):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "kort@deltion.example",
            "password1": "kort",
            "password2": "kort",
            "first_name": "Kim",
            "last_name": "Kort",
        },
    )
    body = response.content.decode()
    assert "Dit wachtwoord is te kort" in body
    assert "too short" not in body


def test_an_optional_select_offers_a_dutch_empty_choice(client, bureau):
    body = login(client, bureau).get(reverse("events:create")).content.decode()
    assert "- Kies een optie -" in body
    assert "Select an option" not in body


def test_a_wrong_order_of_times_says_what_to_do(client, bureau):
    body = (
        login(client, bureau)
        .post(
            reverse("events:create"),
            {
                "title": "Omgekeerd",
                "kind": "netwerkbijeenkomst",
                "start": "2027-01-10T12:00",
                "end": "2027-01-10T10:00",
                "form": "fysiek",
            },
        )
        .content.decode()
    )
    assert "Het einde ligt vóór het begin: kies een einde na het begin." in body
    assert not Session.objects.filter(title="Omgekeerd").exists()


def test_past_sessions_no_longer_say_you_are_invited(client, member):
    make_session(days=-10, title="Geweest")
    body = login(client, member).get(reverse("events:list"), {"when": "past"}).content.decode()
    assert "Geweest" in body
    assert "Je bent uitgenodigd" not in body


def test_an_empty_search_in_the_library_says_nothing_matched(client, db):
    body = client.get(reverse("coalitions:library"), {"q": "bestaatniet"}).content.decode()
    assert "Geen opbrengsten gevonden" in body
    assert "Nog geen opbrengsten" not in body


def test_visitors_find_the_library_and_the_way_to_log_in(client, db):
    login_page = client.get(reverse("account_login")).content.decode()
    assert reverse("coalitions:library") in login_page
    library = client.get(reverse("coalitions:library")).content.decode()
    assert reverse("account_login") in library


def test_the_favicon_is_there(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def test_the_csv_import_refuses_a_maybe_and_names_an_unknown_institution_once(client, bureau):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = (
        b"voornaam;achternaam;email;instelling;ambassadeur\n"
        b"Mo;Misschien;mo@deltion.example;Deltion College;misschien\n"
        b"On;Bekend;on@x.example;ROC Onbekend;nee\n"
    )
    body = (
        login(client, bureau)
        .post(
            reverse("members:import", args=["people"]),
            {"file": SimpleUploadedFile("p.csv", content, "text/csv")},
        )
        .content.decode()
    )
    assert "is geen ja of nee" in body
    assert "Onbekende instelling: ROC Onbekend" in body
    assert "Dit veld is verplicht" not in body


def test_make_run_takes_a_port():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    assert "PORT ?= 8000" in makefile
    assert "runserver 127.0.0.1:$(PORT)" in makefile
    assert "SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)}" in makefile


def test_names_sort_the_dutch_way_whatever_the_case_or_accents(client, bureau):
    from members.models import Institution

    for name in ["ROC Tilburg", "ROC de Leijgraaf", "mboRijnland", "Élan College"]:
        Institution.objects.create(name=name)
    body = login(client, bureau).get(reverse("members:institution_list")).content.decode()
    positions = [
        body.index(name)
        for name in ["Élan College", "mboRijnland", "ROC de Leijgraaf", "ROC Tilburg"]
    ]
    assert positions == sorted(positions)


def test_wide_tables_scroll_in_a_region_a_keyboard_can_reach(client, bureau):
    body = login(client, bureau).get(reverse("members:institution_list")).content.decode()
    assert 'class="table-scroll" role="region" tabindex="0" aria-label=' in body


def test_the_footer_language_switch_is_the_accounts_language_too(client, member):
    login(client, member).post(reverse("set_language"), {"language": "en", "next": "/"})
    member.user.refresh_from_db()
    assert member.user.language == "en"
    assert '<html lang="en">' in client.get(reverse("home")).content.decode()


def test_the_account_mails_are_ours_and_dutch(client, institution, settings):
    from django.core import mail

    client.post(
        reverse("account_signup"),
        {
            "email": "noor@deltion.example",
            "password1": "een-goed-wachtwoord-42",
            "password2": "een-goed-wachtwoord-42",
            "first_name": "Noor",
            "last_name": "Groot",
        },
    )
    message = mail.outbox[-1]
    assert "Bevestig je e-mailadres" in message.subject
    assert message.body.startswith("Hallo,")
    assert "Kwaliteitsnetwerk mbo" in message.body
    for wrong in ("Hallo van", "Bevestigings e-mail", "Je ontvang ", "testserver!"):
        assert wrong not in message.subject + message.body
    mail.outbox.clear()
    client.post(reverse("account_reset_password"), {"email": "niemand@deltion.example"})
    body = mail.outbox[-1].body
    assert "er is geen account met dat adres" in body
    assert "verificatie" not in body.lower()


def test_a_first_local_run_prints_no_broker_hostname_warning():
    from tests.test_foundation import run_manage

    result = run_manage(
        "shell",
        "-c",
        "from kwaliteitsnetwerk.celery import app; app.connection_for_write().info()",
        env_overrides={"REDIS_URL": "", "DATABASE_URL": "sqlite:////tmp/kn-hostname.sqlite3"},
    )
    assert result.returncode == 0, result.stderr
    assert "No hostname was supplied" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2027, 3, 5, 9, 30),  # winter time, one-digit day and month
        dt.datetime(2027, 7, 15, 23, 5),  # summer time
        dt.datetime(2026, 12, 31, 0, 0),
    ],
)
def test_the_quick_date_filters_write_what_djangos_date_filter_writes(moment):
    from django.template.defaultfilters import date

    from members.templatetags.moments import day_and_time, machine_time

    aware = timezone.make_aware(moment)
    assert machine_time(aware) == date(timezone.localtime(aware), "Y-m-d\\TH:i:sO")
    assert day_and_time(aware) == date(timezone.localtime(aware), "j-n-Y H.i")
    assert machine_time(None) == day_and_time(None) == ""
