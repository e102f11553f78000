import datetime as dt
import json

from allauth.account.models import EmailAddress
from django.apps import apps
from django.db import models
from django.urls import reverse
from django.utils import timezone

from events.models import CalendarFeed, Registration, Session
from members import services
from members.models import Notification, Person, User
from tests.conftest import login
from tests.factories import PASSWORD, make_coalition, make_institution, make_person


def models_referring_to(model) -> set[str]:
    labels = set()
    for candidate in apps.get_models():
        for field in candidate._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model is model:
                labels.add(candidate._meta.label)
            if isinstance(field, models.ManyToManyField) and field.related_model is model:
                labels.add(field.remote_field.through._meta.label)
    return labels


def fill_everything_about(person, bureau):
    """A row in every model that refers to this person or their account."""
    from coalitions.models import Input, Output, RingMembership

    coalition = make_coalition("Data 4.0", leads=[person])
    make_coalition("Kansengelijkheid", bureau_contact=person)
    RingMembership.objects.create(
        person=person,
        ring=coalition.rings.get(order=1),
        coalition=coalition,
        status="actief",
        changed_by=person,
    )
    Input.objects.create(
        coalition=coalition, author=person, title="Vraag", body="?", replied_by=person
    )
    Output.objects.create(
        coalition=coalition, title="Handreiking", url="https://example.org/", created_by=person
    )
    start = timezone.now() + dt.timedelta(days=3)
    session = Session.objects.create(
        title="Bijeenkomst", start=start, end=start + dt.timedelta(hours=2), created_by=person
    )
    from coalitions.models import (
        Evaluation,
        Interest,
        Proposal,
        ProposalComment,
        Support,
        ThemeRound,
    )
    from events.models import Presentation

    theme_round = ThemeRound.objects.create(
        school_year="2030-2031",
        opens_at=start,
        closes_at=start + dt.timedelta(days=9),
        created_by=person,
    )
    proposal = Proposal.objects.create(
        round=theme_round,
        title="Thema",
        question="?",
        why_now="Nu",
        desired_output="Iets",
        proposed_by=person,
        status="afgewezen",
        decision_reason="Later",
        decided_by=person,
        decided_at=start,
    )
    Support.objects.create(proposal=proposal, person=person)
    ProposalComment.objects.create(proposal=proposal, author=person, body="Goed idee")
    Interest.objects.create(coalition=coalition, person=person)
    Evaluation.objects.create(coalition=coalition, delivered="x", advice="y", updated_by=person)
    Presentation.objects.create(
        session=session, output=Output.objects.get(coalition=coalition), added_by=person
    )
    Registration.objects.create(
        person=person,
        session=session,
        status="bevestigd",
        remarks="Vegetarisch",
        registered_by=person,
    )
    CalendarFeed.objects.create(person=person)
    Notification.objects.create(
        kind="test", person=person, occasion="x", subject="Hallo", body="Hallo"
    )
    from members import notify

    notify.set_preferences(person, {"weekly_digest": True}, by=person)
    services.invite(person, invited_by=bureau)  # logs an Action about the person
    services.set_retention(3, by=person)
    services.postpone_erasure(person, until=dt.date(2030, 1, 1), reason="Onderzoek", by=person)
    services.end_institution_membership(
        make_institution(), until=dt.date(2030, 7, 31), by=person
    )  # and one the person did
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession

    Authenticator.objects.create(
        user=person.user, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "zaad-7f3e9-geheim"}
    )
    UserSession.objects.create(
        user=person.user, ip="127.0.0.1", session_key="abc", user_agent="test"
    )
    from allauth.socialaccount.models import SocialAccount

    # Logged in once with the institution's account (members.institution_login).
    SocialAccount.objects.create(
        user=person.user,
        provider="instelling",
        uid="sub-123",
        extra_data={"userinfo": {"email": person.email, "schac_home_organization": "x.nl"}},
    )


class TestMyAccount:
    def test_a_member_edits_their_details_and_language(self, client, member):
        login(client, member)
        response = client.post(
            reverse("members:my_account"),
            {
                "first_name": "Charlotte",
                "infix": "",
                "last_name": "Visser",
                "function": "docent",
                "language": "en",
            },
        )
        assert response.status_code == 302
        member.refresh_from_db()
        member.user.refresh_from_db()
        assert member.first_name == "Charlotte"
        assert member.user.language == "en"
        assert '<html lang="en">' in client.get(reverse("members:my_account")).content.decode()

    def test_an_empty_name_is_refused_next_to_the_field(self, client, member):
        login(client, member)
        response = client.post(
            reverse("members:my_account"),
            {"first_name": "", "last_name": "Visser", "language": "nl"},
        )
        assert 'id="id_first_name_error"' in response.content.decode()
        member.refresh_from_db()
        assert member.first_name == "Charlie"

    def test_my_account_is_for_logged_in_people(self, client, db):
        assert client.get(reverse("members:my_account")).status_code == 302
        assert client.get(reverse("members:my_data")).status_code == 302


class TestMyData:
    def test_the_export_holds_every_model_that_refers_to_the_person(self, client, member, bureau):
        fill_everything_about(member, bureau)
        response = login(client, member).get(reverse("members:my_data"))
        assert response["Content-Disposition"].startswith("attachment")
        data = json.loads(response.content)
        exported = {section["source"].split(" ")[0] for section in data["sections"]}
        expected = (models_referring_to(Person) | models_referring_to(User)) - {"members.Person"}
        # allauth's own bookkeeping that never holds rows for a member here
        expected -= {
            "account.EmailConfirmation",
            "admin.LogEntry",
            "auth.User_groups",
            "auth.User_user_permissions",
            "members.User_groups",
            "members.User_user_permissions",
            "mfa.Authenticator",
        } - exported
        missing = expected - exported
        assert not missing, f"not in the export: {missing}"
        assert data["person"]["E-mailadres"] == member.email
        assert data["account"]["E-mailadres"] == member.user.email
        assert "Alles wat het Kwaliteitsnetwerk mbo over je bewaart" in data["about"]
        registrations = next(
            s for s in data["sections"] if s["source"] == "events.Registration (person)"
        )
        assert registrations["title"] == "Aanmeldingen"
        row = registrations["rows"][0]
        assert row["Status"] == "Bevestigd"  # a choice by its label
        assert row["Bijeenkomst"] == "Bijeenkomst"  # a relation by its name
        assert "T" in row["Aangemeld"]
        assert row["Aangemeld"].endswith(("+01:00", "+02:00"))
        assert "token_hash" not in json.dumps(data)
        assert "zaad-7f3e9" not in json.dumps(data)

    def test_every_model_referring_to_a_person_is_covered_by_the_test(self):
        # When a new model points at Person or User, the export picks it up generically; this
        # guards that the test above sees it (a row must be made in fill_everything_about).
        known = {
            "coalitions.Coalition",
            "coalitions.Coalition_leads",
            "coalitions.RingMembership",
            "coalitions.Input",
            "coalitions.Output",
            "coalitions.ThemeRound",
            "coalitions.Proposal",
            "coalitions.Support",
            "coalitions.ProposalComment",
            "coalitions.Interest",
            "coalitions.Evaluation",
            "events.Presentation",
            "events.Registration",
            "events.CalendarFeed",
            "events.Session",
            "members.Notification",
            "members.MailPreference",
            "members.Invitation",
            "members.Action",
            "members.RetentionHold",
            "members.RetentionPolicy",
            "members.Person",
            "account.EmailAddress",
            "mfa.Authenticator",
            "usersessions.UserSession",
            "socialaccount.SocialAccount",
            "admin.LogEntry",
            "members.User_groups",
            "members.User_user_permissions",
            "account.EmailConfirmation",
        }
        assert (models_referring_to(Person) | models_referring_to(User)) - known == set()


class TestErasure:
    def test_erasure_leaves_no_personal_data_and_no_login(self, client, member, bureau):
        fill_everything_about(member, bureau)
        member.notes = "Vegetarisch, rolstoel"
        member.save()
        email, user_pk = member.email, member.user.pk
        login(client, member)
        response = client.post(reverse("members:erase_me"), {"confirm": "on", "password": PASSWORD})
        assert response.status_code == 302
        member.refresh_from_db()
        assert member.erased_at is not None
        for value in ("Charlie", "Visser", email, "Vegetarisch"):
            for field in ("first_name", "last_name", "email", "notes", "function"):
                assert value not in getattr(member, field)
        assert not User.objects.filter(pk=user_pk).exists()
        assert not EmailAddress.objects.filter(email__iexact=email).exists()
        assert not member.invitations.exists()
        assert not member.notifications.exists()
        assert not CalendarFeed.objects.filter(person=member).exists()
        assert member.registrations.get().remarks == ""  # the attendance row stays, the diet goes
        # The row stays so counts keep adding up; the coalition still has its lead slot.
        assert member.led_coalitions.count() == 1
        assert not client.login(email=email, password=PASSWORD)
        for label in models_referring_to(Person) | models_referring_to(User):
            model = apps.get_model(label)
            text_fields = [
                f.name
                for f in model._meta.concrete_fields
                if isinstance(f, models.CharField | models.TextField)
            ]
            for field in text_fields:
                assert not model.objects.filter(**{f"{field}__icontains": email}).exists(), (
                    label,
                    field,
                )

    def test_a_wrong_password_erases_nothing(self, client, member):
        login(client, member)
        response = client.post(reverse("members:erase_me"), {"confirm": "on", "password": "fout"})
        assert response.status_code == 400
        assert "Dat is niet je wachtwoord." in response.content.decode()
        member.refresh_from_db()
        assert member.erased_at is None
        assert member.user is not None

    def test_an_erased_person_disappears_from_the_lists(self, client, bureau, institution):
        person = make_person("Wim", "Weg", institution)
        services.erase_person(person, by=person)
        body = login(client, bureau).get(reverse("members:person_list")).content.decode()
        assert "Weg" not in body
        assert client.get(reverse("members:person_detail", args=[person.pk])).status_code == 404
