"""Bounded input (issue 24): comments, input and proposals took 2 MB of text, shown to every
member and mailed in full to the leads. Every free-text field has a limit in the model, the
database and the form, shown before it is reached, with a message beside the field."""

import datetime as dt

import pytest
import time_machine
from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.urls import reverse

from coalitions import services as coalition_services
from coalitions.models import Input, Proposal, ProposalComment
from members.limits import LONG, SHORT
from tests.conftest import login

NOW = dt.datetime(2026, 12, 10, 10, 0, tzinfo=dt.UTC)
# Written by the application, never typed by a person.
MACHINE_TEXT = {
    ("members.Notification", "body"),
    ("members.Notification", "html"),
    ("members.Notification", "attachment"),
    ("members.Notification", "last_error"),
}


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def typed_text_fields():
    for model in apps.get_models():
        if model._meta.app_label not in {"members", "coalitions", "events"}:
            continue
        for field in model._meta.fields:
            if (
                isinstance(field, models.TextField)
                and (model._meta.label, field.name) not in MACHINE_TEXT
            ):
                yield model, field


def test_every_typed_text_field_has_a_limit_in_the_model_and_the_database():
    missing = []
    for model, field in typed_text_fields():
        names = {c.name for c in model._meta.constraints}
        if not field.max_length or not any(n.endswith(f"_{field.name}_length") for n in names):
            missing.append(f"{model._meta.label}.{field.name}")
    assert missing == []
    # Every CharField a person types into is bounded by its max_length already.
    for model in apps.get_models():
        for field in model._meta.fields:
            if isinstance(field, models.CharField):
                assert field.max_length, f"{model._meta.label}.{field.name}"


@pytest.fixture
def proposal(bureau, member):
    theme_round = coalition_services.open_round(
        by=bureau,
        school_year="2027-2028",
        opens_at=NOW - dt.timedelta(days=5),
        closes_at=NOW + dt.timedelta(days=30),
        votes_per_person=2,
    )
    return coalition_services.propose(
        theme_round, by=member, title="Data", question="Hoe?", why_now="Nu", desired_output="Gids"
    )


def test_a_two_megabyte_comment_gets_a_message_beside_the_field(client, member, proposal):
    url = reverse("coalitions:proposal", args=[proposal.pk])
    page = login(client, member).get(url).content.decode()
    assert f'maxlength="{SHORT}"' in page
    assert f"Maximaal {SHORT} tekens" in page
    response = client.post(url, {"body": "x" * 2_000_000})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_body_error"' in body
    assert "te lang" in body
    assert not ProposalComment.objects.exists()
    assert client.post(url, {"body": "x" * SHORT}).status_code == 302
    assert ProposalComment.objects.get().body == "x" * SHORT


def test_input_and_a_proposal_are_bounded_too(client, lead, member, proposal):
    from tests.factories import make_membership

    coalition = lead.led_coalitions.get()
    make_membership(member, coalition.rings.get(order=1))
    login(client, member)
    response = client.post(
        reverse("coalitions:input_create", args=[coalition.pk]),
        {"kind": "vraag", "title": "Vraag", "body": "y" * (LONG + 1)},
    )
    assert 'id="id_body_error"' in response.content.decode()
    assert not Input.objects.filter(title="Vraag").exists()
    response = client.post(
        reverse("coalitions:proposal_create", args=[proposal.round.pk]),
        {"title": "Groot", "question": "q" * (SHORT + 1), "why_now": "Nu", "desired_output": "-"},
    )
    assert 'id="id_question_error"' in response.content.decode()
    assert not Proposal.objects.filter(title="Groot").exists()


def test_the_database_refuses_what_a_form_would(proposal, member):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProposalComment.objects.create(proposal=proposal, author=member, body="z" * (SHORT + 1))
    Proposal.objects.filter(pk=proposal.pk).update(title="Data")  # a change of another field


def test_the_migration_stops_rather_than_cut_a_longer_saved_text(proposal, member):
    from members.migration_operations import refuse_longer_texts

    comment = ProposalComment.objects.create(proposal=proposal, author=member, body="tien tekens")
    step = refuse_longer_texts("coalitions", {"proposalcomment": {"body": 5}})
    with pytest.raises(RuntimeError) as error:
        step.code(apps, None)
    assert f"coalitions.proposalcomment {comment.pk}: body has 11 characters" in str(error.value)
    comment.refresh_from_db()
    assert comment.body == "tien tekens"
    refuse_longer_texts("coalitions", {"proposalcomment": {"body": 11}}).code(apps, None)
