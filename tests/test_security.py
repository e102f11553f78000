"""What an attack on a production-like setup found (issue 10), each as a test that failed
before its fix."""

import datetime as dt

import pytest
from allauth.mfa.models import Authenticator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from coalitions import services as coalition_services
from events import services as event_services
from events.models import Session
from members import services as member_services
from members.models import EmailDomain, Institution, Person
from tests import factories
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import PASSWORD, make_institution, make_membership, make_person
from tests.members.test_imports import confirm, upload
from tests.state import nothing_changes


def give_second_factor(person):
    factories.give_second_factor(person.user)


def coalition_meeting(coalition, *, by, title="Ons overleg"):
    """A meeting a coalition organises itself (a draft), two weeks ahead."""
    start = timezone.now() + dt.timedelta(days=14)
    return event_services.create_session(
        by=by,
        title=title,
        kind=Session.Kind.COALITION,
        organiser_coalition=coalition,
        start=start,
        end=start + dt.timedelta(hours=4),
    )


@pytest.fixture
def production_mfa(settings):
    settings.BUREAU_REQUIRE_MFA = True


@pytest.fixture
def coalition(lead):
    return lead.led_coalitions.get()


class TestTwoFactorThatHolds:
    def test_a_bureau_account_without_a_second_factor_has_no_bureau_powers_anywhere(
        self, client, production_mfa, bureau, coalition, member
    ):
        request = coalition_services.join_ring(member, coalition.rings.get(order=1))
        session = make_session(organiser_coalition=coalition, kind=Session.Kind.COALITION)
        login(client, bureau)
        for url in [
            reverse("coalitions:board", args=[coalition.pk]),
            reverse("coalitions:edit", args=[coalition.pk]),
            reverse("events:registrations", args=[session.pk]) + "?format=csv",
            reverse("events:edit", args=[session.pk]),
            reverse("events:checkin", args=[session.pk]),
            reverse("activity_log"),
        ]:
            response = client.get(url)
            assert response.status_code in (302, 403), url
            if response.status_code == 302:
                assert response["Location"] == reverse("mfa_activate_totp"), url
        assert (
            client.post(reverse("coalitions:request_accept", args=[request.pk])).status_code == 403
        )
        request.refresh_from_db()
        assert request.is_requested

    def test_with_a_second_factor_the_bureau_has_its_powers(
        self, client, production_mfa, bureau, coalition
    ):
        give_second_factor(bureau)
        assert (
            login(client, bureau).get(reverse("coalitions:board", args=[coalition.pk])).status_code
            == 200
        )

    def test_the_admin_login_is_allauths(self, client, db):
        response = client.get("/django-admin/login/")
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
        # Posting a password to the admin's own form logs nobody in.
        from members.models import User

        User.objects.create_superuser(email="root@kwaliteitsnetwerk.example", password=PASSWORD)
        client.post(
            "/django-admin/login/",
            {"username": "root@kwaliteitsnetwerk.example", "password": PASSWORD},
        )
        assert "_auth_user_id" not in client.session

    def test_a_superuser_without_a_second_factor_goes_nowhere_in_production(
        self, client, production_mfa, db
    ):
        from members.models import User

        root = User.objects.create_superuser(
            email="root@kwaliteitsnetwerk.example", password=PASSWORD
        )
        client.force_login(root)
        for url in ["/django-admin/", reverse("home"), reverse("coalitions:list")]:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"] == reverse("mfa_activate_totp"), url
        setup = client.get(reverse("mfa_activate_totp"))  # allauth's own steps are open
        assert setup.status_code == 200 or setup["Location"].startswith("/account/")
        unconfirmed = factories.give_second_factor(root, confirmed=False)
        response = client.get("/django-admin/")
        assert response["Location"] == reverse("members:confirm_factor_pending")
        unconfirmed.delete()
        factories.give_second_factor(root)
        assert client.get("/django-admin/").status_code == 200


class TestInvitationsBoundToTheirAddress:
    def test_a_corrected_address_revokes_the_old_link(self, client, bureau, institution):
        person = make_person("Olaf", "Drie", institution, email="typo.olaf3@deltion.example")
        _invitation, token = member_services.invite(person, invited_by=bureau)
        person.email = "olaf3@deltion.example"
        person.save(update_fields=["email"])
        with pytest.raises(member_services.InvitationError) as error:
            member_services.accept_invitation(token, password="een-heel-sterk-wachtwoord")
        assert error.value.reason == "replaced"
        person.refresh_from_db()
        assert person.user is None

    def test_a_link_never_opens_or_changes_an_existing_account(self, client, bureau, institution):
        person = make_person("Olaf", "Drie", institution, email="olaf3@deltion.example")
        _invitation, token = member_services.invite(person, invited_by=bureau)
        owner = make_person(
            "Eigen", "Account", institution, account=True, email="x@deltion.example"
        )
        # The person got an account another way (sign-up, verified): link the same address.
        person.user = owner.user
        owner.user = None
        owner.save(update_fields=["user"])
        person.save(update_fields=["user"])
        response = client.post(
            reverse("members:accept_invitation", args=[token]),
            {"password1": "een-ander-wachtwoord-99", "password2": "een-ander-wachtwoord-99"},
        )
        assert response.status_code == 410
        assert "_auth_user_id" not in client.session
        person.user.refresh_from_db()
        assert person.user.check_password(PASSWORD)


class TestLeadsKeptToTheirOwn:
    def test_a_lead_cannot_add_other_coalitions_to_their_meeting(
        self, client, lead, coalition, other_institution
    ):
        from tests.factories import make_coalition

        theirs = make_coalition("Andermans", leads=[make_person("Z", None, other_institution)])
        meeting = coalition_meeting(coalition, by=lead, title="Ons overleg")
        login(client, lead)
        with nothing_changes():
            response = client.post(
                reverse("events:programme_coalitions", args=[meeting.pk]),
                {"coalitions": [theirs.pk]},
            )
        assert response.status_code == 403
        assert not meeting.coalitions.filter(pk=theirs.pk).exists()

    def test_a_taking_part_lead_sees_no_remarks_the_organiser_does(
        self, client, lead, coalition, bureau, institution
    ):
        person = make_person("Dieet", "Wens", institution)
        make_membership(person, coalition.rings.get(order=1))
        session = make_session()
        event_services.add_coalitions(session, [coalition], by=bureau)
        event_services.register(person, session, remarks="Notenallergie")
        login(client, lead)
        url = reverse("events:registrations", args=[session.pk])
        assert "Wens" in client.get(url).content.decode()
        assert "Notenallergie" not in client.get(url).content.decode()
        csv = b"".join(client.get(url + "?format=csv").streaming_content).decode("utf-8-sig")
        assert "Wens" in csv
        assert "Notenallergie" not in csv
        login(client, bureau)
        assert "Notenallergie" in client.get(url).content.decode()

    def test_the_walk_in_search_of_a_lead_finds_only_their_people(
        self, client, lead, coalition, bureau, institution
    ):
        ours = make_person("Eigen", "Vinden", institution)
        make_membership(ours, coalition.rings.get(order=2))
        make_person("Vreemd", "Vinden", institution)
        meeting = coalition_meeting(coalition, by=lead, title="Ons overleg")
        body = (
            login(client, lead)
            .get(reverse("events:checkin", args=[meeting.pk]), {"wie": "vinden"})
            .content.decode()
        )
        assert "Eigen Vinden" in body
        assert "Vreemd Vinden" not in body
        body = client.get(
            reverse("events:checkin", args=[meeting.pk]), {"wie": "kwaliteitsnetwerk.example"}
        ).content.decode()
        assert bureau.last_name not in body


class TestImportKeepsWhatTheFileDoesNotName:
    def test_a_missing_column_leaves_the_field_as_it_is(self, client, bureau):
        institution = Institution.objects.create(
            name="Cibap", short_name="Cibap", city="Zwolle", member_since="2016-01-01"
        )
        EmailDomain.objects.create(institution=institution, domain="cibap.example")
        login(client, bureau)
        upload(client, "institutions", b"naam;plaats\nCibap;Zwolle-Zuid\n")
        assert confirm(client, "institutions").status_code == 302
        institution.refresh_from_db()
        assert institution.city == "Zwolle-Zuid"
        assert institution.short_name == "Cibap"
        assert str(institution.member_since) == "2016-01-01"
        assert list(institution.email_domains.values_list("domain", flat=True)) == ["cibap.example"]

    def test_people_keep_their_function_and_ambassadorship(self, client, bureau, institution):
        person = make_person(
            "Anna", "Ambas", institution, email="anna@deltion.example", function="docent"
        )
        Person.objects.filter(pk=person.pk).update(is_ambassador=True)
        login(client, bureau)
        upload(
            client,
            "people",
            b"voornaam;achternaam;email;instelling\nAnna;Ambassadeur;anna@deltion.example;Deltion College\n",
        )
        confirm(client, "people")
        person.refresh_from_db()
        assert person.last_name == "Ambassadeur"
        assert person.function == "docent"
        assert person.is_ambassador

    def test_the_preview_shows_each_change_from_what_to_what(self, client, bureau):
        Institution.objects.create(name="Cibap", city="Zwolle")
        body = (
            login(client, bureau)
            .post(
                reverse("members:import", args=["institutions"]),
                {"file": SimpleUploadedFile("f.csv", b"naam;plaats\nCibap;Kampen\n", "text/csv")},
            )
            .content.decode()
        )
        assert "Zwolle → Kampen" in body

    @pytest.mark.parametrize(
        "content",
        [b"naam;plaats\nCi\x00bap;Zwolle\n", b"naam;plaats\nCibap;" + b"x" * 140_000 + b"\n"],
    )
    def test_a_nul_or_a_giant_cell_gets_a_message_not_a_500(self, client, bureau, content):
        response = login(client, bureau).post(
            reverse("members:import", args=["institutions"]),
            {"file": SimpleUploadedFile("f.csv", content, "text/csv")},
        )
        assert response.status_code == 400
        assert (
            'class="message message-error"' in response.content.decode()
            or "errorlist" in response.content.decode()
        )
        assert not Institution.objects.filter(name__startswith="Ci").exists()


def test_a_compressed_upload_is_never_unpacked_to_be_checked():
    """A small .odt whose `mimetype` member unpacks to 50 MB of zeros: checking it reads a few
    bytes, not the whole member (before: the whole member was read into memory)."""
    import io
    import tracemalloc
    import zipfile

    from django import forms

    from coalitions.uploads import validate_output_file

    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("mimetype", "w") as member,
    ):
        for _ in range(50):
            member.write(b"\0" * (1024 * 1024))
    upload = SimpleUploadedFile("bom.odt", buffer.getvalue(), "application/octet-stream")
    assert upload.size < 200_000
    tracemalloc.start()
    with pytest.raises(forms.ValidationError):
        validate_output_file(upload)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, f"checking took {peak / 1e6:.0f} MB"


class TestErasureThatErases:
    def test_places_are_given_back_and_the_waiting_list_moves_up(
        self, member, lead, coalition, institution
    ):
        kern, flex = coalition.rings.get(order=1), coalition.rings.get(order=2)
        coalition_services.join_ring(member, flex)
        session = make_session(capacity=1)
        waiting = make_person("Wacht", "Ende", institution)
        place = event_services.register(member, session)
        queued = event_services.register(waiting, session)
        member_services.erase_person(member, by=member)
        place.refresh_from_db()
        queued.refresh_from_db()
        assert place.is_cancelled
        assert queued.is_confirmed
        assert not member.ring_memberships.open().exists()
        assert flex.memberships.active().count() == 0
        assert kern.memberships.open().count() == 0

    def test_every_copy_of_their_words_goes(self, member, lead, coalition):
        from coalitions.models import Input
        from members.models import Action, Notification

        coalition_services.join_ring(
            member, coalition.rings.get(order=1), motivation="Bel me op 06-12345678"
        )
        coalition_services.add_input(
            coalition, by=member, kind="idee", title="Charlie's idee", body="Mail charlie@x"
        )
        assert Notification.objects.filter(person=lead, body__contains="06-12345678").exists()
        member_services.erase_person(member, by=member)
        for model, field in [(Notification, "body"), (Input, "title"), (Input, "body")]:
            assert not model.objects.filter(**{f"{field}__icontains": "charlie"}).exists()
        assert not Notification.objects.filter(body__contains="06-12345678").exists()
        assert not Action.objects.filter(data__icontains="Charlie").exists()

    def test_every_model_pointing_at_a_person_has_an_erasure_rule(self):
        """A new model that refers to Person must say what erasure means for it."""
        from django.apps import apps
        from django.db import models

        missing = []
        for model in apps.get_models():
            if model._meta.app_label not in {"members", "coalitions", "events"}:
                continue
            if model is Person:
                continue
            refers = any(
                isinstance(f, models.ForeignKey | models.OneToOneField)
                and f.related_model is Person
                for f in model._meta.fields
            )
            rule = any(
                hasattr(model, name) for name in ("ERASE_DELETE", "ERASE_FIELDS", "ERASE_KEEP")
            )
            if refers and not rule:
                missing.append(model._meta.label)
        assert missing == []

    def test_the_data_download_holds_the_chosen_parts(self, client, member):
        import json

        from events.models import SessionPart

        session = make_session()
        parts = [
            SessionPart.objects.create(
                session=session, title="Plenair", start=session.start, end=session.end
            )
        ]
        event_services.register(member, session, parts=parts)

        data = json.loads(login(client, member).get(reverse("members:my_data")).content)
        chosen = next(
            s["rows"] for s in data["sections"] if s["source"] == "events.PartChoice (registration)"
        )
        assert [row["Programmaonderdeel"] for row in chosen] == ["Plenair"]


class TestBadInputNeverA500:
    def test_a_session_in_the_year_one_is_refused_beside_the_field(self, client, bureau):
        response = login(client, bureau).post(
            reverse("events:create"),
            {
                "title": "Oud",
                "kind": "netwerkbijeenkomst",
                "start": "0001-01-10T10:00",
                "end": "0001-01-10T12:00",
                "form": "fysiek",
            },
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert 'id="id_start_error"' in body
        assert "tussen 2000 en 2100" in body
        assert not Session.objects.filter(title="Oud").exists()

    def test_capacity_zero_gets_a_message_beside_the_field(self, client, bureau):
        response = login(client, bureau).post(
            reverse("events:create"),
            {
                "title": "Nul",
                "kind": "netwerkbijeenkomst",
                "start": "2027-01-10T10:00",
                "end": "2027-01-10T12:00",
                "form": "fysiek",
                "capacity": "0",
            },
        )
        body = response.content.decode()
        assert 'id="id_capacity_error"' in body
        assert "session_capacity_positive" not in body
        assert not Session.objects.filter(title="Nul").exists()

    @pytest.mark.parametrize(
        "url",
        [
            "/coalities/opbrengsten/?q=%00",
            "/coalities/?q=%00",
            "/coalities/?school_year=%00",
            "/coalities/?theme=%00",
            "/personen/?q=%00",
            "/instellingen/?q=%00",
            "/bijeenkomsten/agenda/x%00.ics",
        ],
    )
    def test_a_nul_character_gets_a_400_not_a_500(self, client, bureau, url):
        response = login(client, bureau).get(url)
        assert response.status_code == 400
        assert "teken dat niet is toegestaan" in response.content.decode()

    def test_a_nul_in_the_check_in_search_too(self, client, bureau):
        session = make_session()
        response = login(client, bureau).get(
            reverse("events:checkin", args=[session.pk]) + "?wie=%00ab"
        )
        assert response.status_code == 400

    def test_production_trusts_no_proxy_unless_told(self):
        from tests.test_foundation import PROD_ENV, run_manage

        result = run_manage(
            "shell",
            "-c",
            "from django.conf import settings; print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)",
            env_overrides=PROD_ENV,
        )
        assert result.stdout.strip().endswith("0"), result.stderr


def test_verified_sign_up_is_linked_also_with_production_settings():
    """The e-mail-confirmed receiver must stay alive without DEBUG (a weak reference to a
    local function is collected at once)."""
    from tests.test_foundation import PROD_ENV, run_manage

    result = run_manage(
        "shell",
        "-c",
        "import gc; gc.collect(); "
        "from allauth.account.signals import email_confirmed; "
        "print(email_confirmed.has_listeners())",
        env_overrides=PROD_ENV,
    )
    assert result.stdout.strip().endswith("True"), result.stderr


def test_leaving_or_being_erased_with_a_pending_move_works(member, lead, coalition):
    membership = coalition_services.join_ring(member, coalition.rings.get(order=2))
    coalition_services.request_move(membership, coalition.rings.get(order=1), person=member)
    coalition_services.leave(membership, person=member)
    membership.refresh_from_db()
    assert membership.status == "beeindigd"
    assert membership.requested_ring is None
    again = coalition_services.join_ring(member, coalition.rings.get(order=2))
    coalition_services.request_move(again, coalition.rings.get(order=1), person=member)
    member_services.erase_person(member, by=member)
    again.refresh_from_db()
    assert again.status == "beeindigd"


def test_a_stale_accept_moves_nobody_who_withdrew(member, lead, coalition):
    membership = coalition_services.join_ring(member, coalition.rings.get(order=2))
    coalition_services.request_move(membership, coalition.rings.get(order=1), person=member)
    stale = type(membership).objects.get(pk=membership.pk)  # the lead's page, loaded before
    coalition_services.withdraw_move(membership, person=member)
    with pytest.raises(coalition_services.MembershipError):
        coalition_services.accept_request(stale, by=lead)
    membership.refresh_from_db()
    assert membership.is_active
    assert membership.ring == coalition.rings.get(order=2)


def test_a_lead_does_not_mark_themselves_present(client, lead, coalition):
    meeting = coalition_meeting(coalition, by=lead, title="Ons overleg")
    from events.models import Registration

    registration = Registration.objects.create(person=lead, session=meeting, status="bevestigd")
    login(client, lead)
    with nothing_changes():
        response = client.post(reverse("events:mark", args=[registration.pk]), {"attended": "1"})
    assert response.status_code == 403
    registration.refresh_from_db()
    assert registration.attended is None


def test_changing_the_organiser_takes_the_former_one_out(
    bureau, lead, coalition, other_institution
):
    from tests.factories import make_coalition

    other_lead = make_person("Nieuw", "Trekker", other_institution)
    other = make_coalition("Nieuwe organisator", leads=[other_lead])
    meeting = coalition_meeting(coalition, by=bureau, title="Overleg")
    assert meeting.is_organised_by(lead)
    event_services.change_session(meeting, by=bureau, organiser_coalition=other)
    assert set(meeting.coalitions.all()) == {other}
    assert not meeting.is_organised_by(lead)
    assert meeting.is_organised_by(other_lead)


def test_an_encrypted_archive_member_is_refused_not_a_500():
    import io
    import zipfile

    from django import forms

    from coalitions.uploads import validate_output_file

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", b"application/vnd.oasis.opendocument.text")
    data = bytearray(buffer.getvalue())
    # Set the "encrypted" bit of the member in the local and the central header.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x1
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("mimetype").flag_bits & 0x1
    upload = SimpleUploadedFile("geheim.odt", bytes(data))
    with pytest.raises(forms.ValidationError):
        validate_output_file(upload)


def test_granting_bureau_rights_and_changing_an_address_are_logged(client, bureau):
    from members.models import Action

    institution = bureau.institution
    person = make_person("Nieuw", "Bureau", institution)
    _invitation, token = member_services.invite(person, invited_by=bureau)
    login(client, bureau).post(
        reverse("members:person_edit", args=[person.pk]),
        {
            "first_name": "Nieuw",
            "last_name": "Bureau",
            "email": "nieuw.bureau@kwaliteitsnetwerk.example",
            "institution": institution.pk,
            "is_bureau_staff": "on",
        },
    )
    person.refresh_from_db()
    assert person.is_bureau_staff
    granted = Action.objects.get(verb="person.bureau_rights_granted")
    assert granted.actor == bureau
    assert granted.person == person
    assert "e-mailadres" in Action.objects.get(verb="person.changed").description
    with pytest.raises(member_services.InvitationError):
        member_services.check_invitation(token)  # the link was for the old address


def test_one_failing_erasure_does_not_stop_retention(monkeypatch, institution):
    import datetime as dt

    from members import retention

    people = [make_person(f"Oud{i}", "Lid", institution) for i in range(3)]
    Person.objects.filter(pk__in=[p.pk for p in people]).update(
        created_at=dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    )
    assert set(retention.due()) == set(people)
    original = member_services.erase_person

    def fail_for_the_first(person, **kwargs):
        if person.pk == people[0].pk:
            raise RuntimeError("kapot")
        return original(person, **kwargs)

    monkeypatch.setattr(member_services, "erase_person", fail_for_the_first)
    assert member_services.apply_retention() == 2
    assert set(retention.due()) == {people[0]}


def test_the_data_download_holds_no_one_elses_words_and_no_feed_address(client, lead, institution):
    import json

    from events.models import CalendarFeed

    other = make_person("Ander", "Mens", institution)
    event_services.register(other, make_session(), by=lead, remarks="Notenallergie")
    feed = CalendarFeed.objects.create(person=lead)
    body = login(client, lead).get(reverse("members:my_data")).content.decode()
    assert "Notenallergie" not in body
    assert "Ander Mens" not in body
    assert feed.token not in body
    sections = {s["source"]: s["rows"] for s in json.loads(body)["sections"]}
    assert len(sections["events.Registration (registered_by)"]) == 1  # what they did, and when


def test_an_organising_lead_adds_a_guest_and_keeps_them_in_view(client, lead, coalition):
    from events.models import Registration

    meeting = coalition_meeting(coalition, by=lead, title="Ons overleg")
    login(client, lead)
    form = client.get(reverse("events:checkin", args=[meeting.pk])).content.decode()
    assert 'name="institution"' not in form  # a lead adds guests among the guests only
    response = client.post(
        reverse("events:add_guest", args=[meeting.pk]),
        {"first_name": "Gast", "last_name": "Spreker", "email": "gast@extern.example"},
    )
    assert response.status_code == 302
    registration = Registration.objects.get(session=meeting, person__email="gast@extern.example")
    assert registration.person.institution.kind == "extern"
    body = client.get(reverse("events:checkin", args=[meeting.pk])).content.decode()
    assert "Gast Spreker" in body
    assert "1 van 1 aanwezig" in body
    client.post(reverse("events:mark", args=[registration.pk]), {"attended": "0"})
    registration.refresh_from_db()
    assert registration.attended is False


def test_the_bench_references_exist_only_when_the_bench_runs(client, db):
    """make bench serves a bare "ok" and a one-query page (KN_BENCH_REFERENCE=1); never else."""
    from django.core.handlers.wsgi import WSGIHandler

    from kwaliteitsnetwerk.wsgi import application

    assert isinstance(application, WSGIHandler)  # no reference wrapper around Django
    assert client.get("/_bench/een-query/").status_code == 404
    assert client.get("/_bench/ok").status_code == 404


class TestDoorsBehindAProxy:
    """Issue 24: with DEBUG=0 the app trusted one proxy by default while gunicorn was
    published directly: a new forged X-Forwarded-For per request bought new password guesses."""

    def test_a_forged_forwarded_for_buys_no_extra_password_guesses(self, client, settings, db):
        from tests.test_foundation import PROD_ENV, run_manage

        default = run_manage(
            "shell",
            "-c",
            "from django.conf import settings; print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)",
            env_overrides=PROD_ENV,
        ).stdout.strip()
        settings.ALLAUTH_TRUSTED_PROXY_COUNT = int(default.splitlines()[-1])
        institution = make_institution("Proxycollege", domain="proxy.example")
        owner = make_person("Echte", "Eigenaar", institution, account=True)
        for n in range(10):  # ten accounts, so only the limit per address counts
            client.post(
                reverse("account_login"),
                {"login": f"iemand{n}@proxy.example", "password": "fout"},
                HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
            )
        response = client.post(
            reverse("account_login"),
            {"login": owner.email, "password": PASSWORD},
            HTTP_X_FORWARDED_FOR="203.0.113.99",
        )
        assert "_auth_user_id" not in client.session
        assert "Te veel" in response.content.decode()


def log_in_with_password(client, person):
    """A real login with the password (what someone who has only the password can do)."""
    client.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})
    assert "_auth_user_id" in client.session


def enrol_an_authenticator(client) -> str:
    """Set up an authenticator app through allauth's own steps; returns its secret."""
    from allauth.mfa.totp.internal.auth import (
        SECRET_SESSION_KEY,
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    # allauth asks for the password again before a factor is added (the same password).
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    counters = list(yield_hotp_counters_from_time())
    code = format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))
    response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert response.status_code == 302, response.content.decode()
    return secret


def link_mailed_to(address: str, path_part: str) -> str:
    import re

    from django.core import mail

    for message in mail.outbox:
        if address in message.to and path_part in message.body:
            return re.search(rf"https?://[^/\s]+({path_part}\S+)", message.body)[1]
    raise AssertionError(f"no mail with {path_part} to {address}")


# allauth mails after the commit, inside the request: these tests commit for real.
@pytest.mark.django_db(transaction=True)
class TestASecondFactorNoPasswordEnrolsAlone:
    """Issue 24: whoever had a bureau account's password enrolled their own authenticator and
    had the bureau's powers at once; nobody was told."""

    CONFIRM = "/account/tweede-factor/bevestigen/"

    def test_a_factor_enrolled_with_the_password_alone_gives_no_bureau_powers(
        self, client, production_mfa, bureau, coalition
    ):
        from django.core import mail

        log_in_with_password(client, bureau)
        enrol_an_authenticator(client)
        for url in [
            reverse("bureau_dashboard"),
            reverse("members:person_list"),
            reverse("members:export", args=["people"]),
            reverse("coalitions:board", args=[coalition.pk]),
        ]:
            response = client.get(url)
            assert response.status_code in (302, 403), url
            if response.status_code == 302:
                assert response["Location"] == reverse("members:confirm_factor_pending"), url
        bureau.refresh_from_db()
        assert not bureau.has_bureau_rights
        # The account's own mailbox is asked, in Dutch, with a link.
        assert any(bureau.email in m.to and "tweede stap" in m.subject.lower() for m in mail.outbox)
        pending = client.get(reverse("members:confirm_factor_pending")).content.decode()
        assert bureau.email in pending

    def test_the_link_from_the_mailbox_makes_the_factor_count(
        self, client, production_mfa, bureau, coalition
    ):
        log_in_with_password(client, bureau)
        enrol_an_authenticator(client)
        url = link_mailed_to(bureau.email, self.CONFIRM)
        assert client.get(url).status_code == 200  # a GET only asks (mail scanners open links)
        assert client.get(reverse("bureau_dashboard")).status_code == 302
        response = client.post(url)
        assert response.status_code == 302
        assert client.get(reverse("bureau_dashboard")).status_code == 200
        assert client.get(reverse("coalitions:board", args=[coalition.pk])).status_code == 200

    def test_a_forged_old_or_reused_link_confirms_nothing(
        self, client, production_mfa, bureau, time_machine
    ):

        time_machine.move_to(timezone.now(), tick=False)
        log_in_with_password(client, bureau)
        enrol_an_authenticator(client)
        url = link_mailed_to(bureau.email, self.CONFIRM)
        assert client.post(url[:-3] + "xyz/").status_code == 404
        time_machine.shift(dt.timedelta(days=2))
        assert client.post(url).status_code == 410
        assert not bureau.has_second_factor
        # A new authenticator (the old one removed) needs its own confirmation.
        time_machine.shift(-dt.timedelta(days=2))
        Authenticator.objects.filter(user=bureau.user).delete()
        assert client.post(url).status_code == 410

    def test_a_superuser_without_a_confirmed_factor_gets_no_admin(self, client, production_mfa, db):
        from allauth.account.models import EmailAddress

        from members.models import User

        root = User.objects.create_superuser(
            email="root@kwaliteitsnetwerk.example", password=PASSWORD
        )
        EmailAddress.objects.create(user=root, email=root.email, verified=True, primary=True)
        client.post(reverse("account_login"), {"login": root.email, "password": PASSWORD})
        enrol_an_authenticator(client)
        response = client.get("/django-admin/")
        assert response.status_code == 302
        assert response["Location"] == reverse("members:confirm_factor_pending")
        client.post(link_mailed_to(root.email, self.CONFIRM))
        assert client.get("/django-admin/").status_code == 200

    def test_a_member_enrols_a_factor_without_being_asked(self, client, production_mfa, member):
        from django.core import mail

        log_in_with_password(client, member)
        enrol_an_authenticator(client)
        assert not any(self.CONFIRM in m.body for m in mail.outbox)


@pytest.mark.django_db(transaction=True)  # allauth mails some changes after the commit
class TestEveryChangeOfTheLoginIsMailed:
    """Issue 24: a new factor, password or address went unnoticed by the owner."""

    def mails_to(self, address):
        from django.core import mail

        return [m for m in mail.outbox if address in m.to]

    def test_a_new_password_is_mailed_in_dutch(self, client, member):
        log_in_with_password(client, member)
        client.post(
            reverse("account_change_password"),
            {
                "oldpassword": PASSWORD,
                "password1": "nieuw-Wachtwoord-42",
                "password2": "nieuw-Wachtwoord-42",
            },
        )
        (message,) = self.mails_to(member.email)
        assert message.subject.endswith("Je wachtwoord is gewijzigd")
        assert "Heb je dit niet zelf gedaan?" in message.body
        assert " u " not in message.body
        assert "uw " not in message.body

    def test_a_new_authenticator_and_its_removal_are_mailed(self, client, member):
        from allauth.mfa.models import Authenticator

        log_in_with_password(client, member)
        enrol_an_authenticator(client)
        bodies = [m.subject + m.body for m in self.mails_to(member.email)]
        assert any("Authenticator-app ingesteld" in b for b in bodies), bodies
        assert all("Heb je dit niet zelf gedaan?" in b for b in bodies)
        totp = Authenticator.objects.get(user=member.user, type="totp")
        client.post(reverse("mfa_deactivate_totp"), {"id": totp.pk})
        assert not Authenticator.objects.filter(user=member.user, type="totp").exists()
        assert any("Authenticator-app uitgezet" in m.subject for m in self.mails_to(member.email))

    def test_a_changed_address_is_mailed_to_the_old_one(self, client, member):
        from allauth.account.models import EmailAddress

        old = member.email
        new = "charlie.nieuw@deltion.example"
        EmailAddress.objects.create(user=member.user, email=new, verified=True, primary=False)
        log_in_with_password(client, member)
        client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
        client.post(reverse("account_email"), {"action_primary": "", "email": new})
        assert EmailAddress.objects.get(email=new).primary
        assert any("e-mailadres" in m.body for m in self.mails_to(old))


WAIT = "seconden en probeer het opnieuw"  # the delay's message, whatever the seconds


class TestTheLoginLimitSlowsGuessesButLocksNobodyOut:
    """Issue 24: five wrong passwords (or codes) from rotating addresses locked the real owner
    out for five minutes. Now: per account a growing delay, capped, and the owner's own browser
    counts on its own."""

    def attempt(self, client, person, password, n):  # from address n
        response = client.post(
            reverse("account_login"),
            {"login": person.email, "password": password},
            REMOTE_ADDR=f"198.51.100.{n}",
        )
        return response

    def test_guesses_from_rotating_addresses_lock_the_owner_out_for_seconds_not_minutes(
        self, client, member, time_machine
    ):
        from django.test import Client

        time_machine.move_to(timezone.now(), tick=False)
        attacker = Client()
        for n in range(5):
            self.attempt(attacker, member, "fout", n)
        body = self.attempt(client, member, PASSWORD, 50).content.decode()
        assert "_auth_user_id" not in client.session
        assert "Wacht 2 seconden" in body
        time_machine.shift(3)
        self.attempt(client, member, PASSWORD, 50)
        assert "_auth_user_id" in client.session

    def test_each_further_failure_doubles_the_wait_up_to_half_a_minute(
        self, client, member, time_machine
    ):
        from members import login_delay

        time_machine.move_to(timezone.now(), tick=False)
        waits = []
        for n in range(12):  # every attempt here comes after the wait of the failures so far
            waits.append(login_delay.wait(n))
            time_machine.shift(waits[-1])
            assert WAIT not in self.attempt(client, member, "fout", n).content.decode()
        assert waits[:5] == [0, 0, 0, 0, 0]
        assert waits[5:10] == [2, 4, 8, 16, 30]
        assert max(waits) == 30
        # An attempt during the wait is refused unchecked and does not make the wait longer.
        assert WAIT in self.attempt(client, member, "fout", 99).content.decode()
        time_machine.shift(-1)
        assert WAIT in self.attempt(client, member, PASSWORD, 99).content.decode()
        time_machine.shift(31)
        self.attempt(client, member, PASSWORD, 99)
        assert "_auth_user_id" in client.session

    def test_the_owners_own_browser_is_not_slowed_by_someone_elses_guesses(
        self, client, member, time_machine
    ):
        from django.test import Client

        time_machine.move_to(timezone.now(), tick=False)
        self.attempt(client, member, PASSWORD, 1)
        client.post(reverse("account_logout"))
        attacker = Client()
        for n in range(20):
            time_machine.shift(31)
            self.attempt(attacker, member, "fout", n)
        assert WAIT in self.attempt(attacker, member, "fout", 77).content.decode()
        self.attempt(client, member, PASSWORD, 78)  # the known browser, at once
        assert "_auth_user_id" in client.session

    def test_wrong_codes_slow_the_code_step_but_do_not_lock_it(self, client, member, time_machine):
        from allauth.mfa.totp.internal.auth import (
            format_hotp_value,
            hotp_value,
            yield_hotp_counters_from_time,
        )

        from tests.factories import give_second_factor

        time_machine.move_to(timezone.now(), tick=False)
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        totp = give_second_factor(member.user)
        totp.data = {"secret": secret}
        totp.save()
        self.attempt(client, member, PASSWORD, 1)
        url = reverse("mfa_authenticate")
        for n in range(5):
            client.post(url, {"code": "000000"}, REMOTE_ADDR=f"198.51.100.{n}")
        counters = list(yield_hotp_counters_from_time())
        code = format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))
        body = client.post(url, {"code": code}).content.decode()
        assert "Wacht 2 seconden" in body
        assert "_auth_user_id" not in client.session
        time_machine.shift(3)
        client.post(url, {"code": code})
        assert "_auth_user_id" in client.session


class TestRegisterByEmailRevealsNobody:
    """Issue 24: a lead's "register by e-mail" answered whether an address belongs to anyone
    (an unknown address: a message; someone outside their coalitions: 403)."""

    def answer(self, client, session, email):
        import re

        response = client.post(reverse("events:registrations", args=[session.pk]), {"email": email})
        errors = re.findall(r'id="id_email_error"[^>]*>(.*?)</', response.content.decode(), re.S)
        return response.status_code, errors

    def test_an_unknown_address_and_a_stranger_get_the_same_answer(
        self, client, lead, coalition, outsider, institution
    ):
        ours = make_person("Eigen", "Mens", institution)
        make_membership(ours, coalition.rings.get(order=1))
        session = make_session()
        event_services.add_coalitions(session, [coalition], by=None)
        login(client, lead)
        unknown = self.answer(client, session, "niemand@deltion.example")
        stranger = self.answer(client, session, outsider.email)
        assert unknown == stranger
        assert unknown[0] == 200
        assert unknown[1]  # a message beside the field
        assert not session.registrations.filter(person=outsider).exists()
        status, errors = self.answer(client, session, ours.email)
        assert status == 302
        assert session.registrations.filter(person=ours).exists()
