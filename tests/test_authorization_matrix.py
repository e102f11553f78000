"""The authorization matrix: every URL of the site, for every kind of visitor, with GET and —
where the URL takes it — POST, against the answer each must get. Runs with production's second
factor rule on. A URL of ours that is missing from the table fails the test, and so does a
refused POST that changed any row (tests/state.py).

Kinds of visitor: anonymous (also a person without a login: they cannot get further), a member
of coalition A, a member of coalition B, the lead of A, the lead of B, the bureau (with a second
factor) and bureau staff without one (who must be no more than a member).
"""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from coalitions import services as coalition_services
from coalitions.models import Input, Output, Proposal, ThemeRound
from events import services as event_services
from events.models import CalendarFeed, SessionPart
from members import notify
from members.models import Notification
from tests.conftest import login
from tests.events.conftest import make_session
from tests.factories import give_second_factor, make_coalition, make_membership, make_person
from tests.state import changes, snapshot

ANON, MEMBER, OTHER, LEAD_A, LEAD_B, BUREAU, BUREAU_NO_2FA = (
    "anon",
    "member",
    "other",
    "lead_a",
    "lead_b",
    "bureau",
    "bureau_no_2fa",
)
EVERYONE = {ANON, MEMBER, OTHER, LEAD_A, LEAD_B, BUREAU, BUREAU_NO_2FA}
LOGGED_IN = EVERYONE - {ANON}
ONLY_BUREAU = {BUREAU}
A_MANAGERS = {BUREAU, LEAD_A}
LEADS_AND_BUREAU = {BUREAU, LEAD_A, LEAD_B}

# name -> (who may GET, who may POST); None: that method is not this URL's to test (GET on a
# POST-only URL must be refused with 405, which is checked for every logged-in visitor).
MATRIX = {
    # site
    "home": (LOGGED_IN, None),
    "healthz": (EVERYONE, None),
    "favicon": (EVERYONE, None),
    "set_language": (None, EVERYONE),
    "bureau_dashboard": (ONLY_BUREAU, None),
    "activity_log": (ONLY_BUREAU, None),
    "bureau_signal": (ONLY_BUREAU, None),
    "participation": (ONLY_BUREAU, None),
    "figures": (ONLY_BUREAU, None),
    "annual_report": (ONLY_BUREAU, None),
    "network_picture": (ONLY_BUREAU, None),
    "my_registrations": (LOGGED_IN, None),
    # members
    "members:institution_list": (ONLY_BUREAU, None),
    "members:institution_create": (ONLY_BUREAU, ONLY_BUREAU),
    "members:institution_detail": (ONLY_BUREAU, None),
    "members:institution_edit": (ONLY_BUREAU, ONLY_BUREAU),
    "members:institution_end_membership": (None, ONLY_BUREAU),
    "members:person_list": (ONLY_BUREAU, None),
    "members:person_create": (ONLY_BUREAU, ONLY_BUREAU),
    "members:person_detail": (ONLY_BUREAU, None),
    "members:person_edit": (ONLY_BUREAU, ONLY_BUREAU),
    "members:person_invite": (None, ONLY_BUREAU),
    "members:import": (ONLY_BUREAU, ONLY_BUREAU),
    "members:export": (ONLY_BUREAU, None),
    "members:accept_invitation": (EVERYONE, EVERYONE),  # the token is the key
    "members:request_new_invitation": (None, EVERYONE),
    "members:retention": (ONLY_BUREAU, ONLY_BUREAU),
    "members:retention_postpone": (None, ONLY_BUREAU),
    "members:my_account": (LOGGED_IN, LOGGED_IN),
    "members:outbox": (ONLY_BUREAU, None),
    "members:outbox_resend": (None, ONLY_BUREAU),
    # The signed link is the key (RFC 8058: a mail program posts it without a login).
    "members:unsubscribe": (EVERYONE, EVERYONE),
    "members:my_data": (LOGGED_IN, None),
    "members:erase_me": (None, LOGGED_IN),  # without the password nothing is erased
    # An account whose new authenticator waits for its mailbox; everyone else goes home.
    "members:confirm_factor_pending": (LOGGED_IN, LOGGED_IN),
    "members:confirm_factor": (EVERYONE, EVERYONE),  # the signed link is the key
    # coalitions
    "coalitions:list": (LOGGED_IN, None),
    "coalitions:create": (ONLY_BUREAU, ONLY_BUREAU),
    "coalitions:library": (EVERYONE, None),
    "coalitions:themes": (ONLY_BUREAU, ONLY_BUREAU),
    "coalitions:output_download": (A_MANAGERS, None),  # a Kern-only output of A
    "coalitions:detail": (LOGGED_IN, None),
    "coalitions:edit": (A_MANAGERS, A_MANAGERS),
    "coalitions:transition": (ONLY_BUREAU, ONLY_BUREAU),  # GET asks first
    "coalitions:board": (A_MANAGERS, None),
    "coalitions:ring_create": (A_MANAGERS, A_MANAGERS),
    "coalitions:ring_edit": (A_MANAGERS, A_MANAGERS),
    "coalitions:ring_invite": (None, A_MANAGERS),
    "coalitions:input_create": (None, A_MANAGERS | {MEMBER}),  # the Flexibele ring may
    "coalitions:output_create": (A_MANAGERS, A_MANAGERS),  # the Flexibele ring may not
    "coalitions:input_reply": (A_MANAGERS, A_MANAGERS),
    "coalitions:ring_join": (None, LOGGED_IN),  # the ring's rules decide, with a message
    "coalitions:request_accept": (None, A_MANAGERS),
    "coalitions:request_decline": (None, A_MANAGERS),
    "coalitions:membership_move": (None, A_MANAGERS),
    "coalitions:membership_end": (None, A_MANAGERS),
    "coalitions:membership_leave": ({MEMBER}, {MEMBER}),
    "coalitions:move_withdraw": (None, {MEMBER}),  # a message when there is nothing to withdraw
    "coalitions:invitation_respond": (None, {MEMBER}),
    # the yearly cycle
    "coalitions:rounds": (LOGGED_IN, None),
    "coalitions:round_create": (ONLY_BUREAU, ONLY_BUREAU),
    "coalitions:round": (LOGGED_IN, None),
    "coalitions:round_edit": (ONLY_BUREAU, ONLY_BUREAU),
    "coalitions:round_close": (None, ONLY_BUREAU),
    "coalitions:ranking": (ONLY_BUREAU, None),
    "coalitions:proposal_create": (LOGGED_IN, LOGGED_IN),  # while the round is open
    "coalitions:proposal": (LOGGED_IN, LOGGED_IN),  # everyone reads and comments
    "coalitions:proposal_support": (None, LOGGED_IN),
    "coalitions:proposal_decide": (ONLY_BUREAU, ONLY_BUREAU),
    "coalitions:recruitment": (LOGGED_IN, None),
    "coalitions:recruitment_join": (None, LOGGED_IN),  # the ring's rules decide
    "coalitions:candidates": (A_MANAGERS, A_MANAGERS),
    "coalitions:launch": (ONLY_BUREAU, ONLY_BUREAU),
    "coalitions:evaluation": (A_MANAGERS | {MEMBER}, A_MANAGERS | {MEMBER}),  # lead and Kern of E
    "coalitions:evaluations": (ONLY_BUREAU, None),
    # events (J: a joint session of A and B, organised by the bureau)
    "events:list": (LOGGED_IN, None),
    "events:create": ({BUREAU, LEAD_A, LEAD_B}, {BUREAU, LEAD_A, LEAD_B}),
    "events:feed": (EVERYONE, None),  # the secret address is the key
    "events:renew_feed": (None, LOGGED_IN),
    "events:cancel_registration": ({MEMBER, BUREAU, LEAD_A}, {MEMBER, BUREAU, LEAD_A}),
    "events:mark": (None, {BUREAU, LEAD_A}),
    "events:detail": (LOGGED_IN, None),
    "events:signup": (None, LOGGED_IN),
    "events:places": (LOGGED_IN, None),
    "events:edit": (ONLY_BUREAU, ONLY_BUREAU),
    "events:programme": (ONLY_BUREAU, None),
    "events:programme_coalitions": (None, ONLY_BUREAU),
    "events:part_create": (ONLY_BUREAU, ONLY_BUREAU),
    "events:part_edit": (A_MANAGERS, A_MANAGERS),  # A's own work part
    "events:publish": (ONLY_BUREAU, ONLY_BUREAU),
    "events:cancel": (None, ONLY_BUREAU),
    "events:registrations": (LEADS_AND_BUREAU, LEADS_AND_BUREAU),
    "events:checkin": (LEADS_AND_BUREAU, None),
    "events:walk_in": (None, A_MANAGERS),  # checking in the member of A
    "events:add_guest": (None, ONLY_BUREAU),  # the organisers: at J the bureau
    "events:presence_list": (LEADS_AND_BUREAU, None),
    "events:ics": (LOGGED_IN, None),
    "events:presentations": (ONLY_BUREAU, ONLY_BUREAU),  # at the conference C
}
QUERY = {"coalitions:transition": "?status=evaluatie"}
# What an allowed GET answers (200 unless said here): a refusal dressed as a page fails.
ALLOWED_GET = {
    "favicon": {301},
    "members:accept_invitation": {404},
    "members:confirm_factor": {404},
    "members:confirm_factor_pending": {302},
}

# A meeting that coalition A organises itself: its lead has the organiser's powers there.
OWN_MEETING = {
    "events:edit": (A_MANAGERS, A_MANAGERS),
    "events:programme": (A_MANAGERS, None),
    "events:part_create": (A_MANAGERS, A_MANAGERS),
    "events:publish": (A_MANAGERS, A_MANAGERS),
    "events:cancel": (None, A_MANAGERS),
    "events:registrations": (A_MANAGERS, A_MANAGERS),
    "events:checkin": (A_MANAGERS, None),
    "events:add_guest": (None, A_MANAGERS),
    "events:programme_coalitions": (None, ONLY_BUREAU),  # which coalitions take part: bureau
    "events:presentations": (set(), set()),  # a meeting is no conference: nobody
}
# Third-party URLs with their own tests: allauth's accounts and the Django admin.
NOT_OURS = ("account/", "django-admin/")


def our_url_names() -> set[str]:
    names = set()

    def walk(patterns, namespace, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                if route.startswith(NOT_OURS):
                    continue
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, ns, route)
            elif isinstance(p, URLPattern) and p.name:  # ours, also under account/
                names.add(namespace + p.name)

    walk(get_resolver().url_patterns, "", "")
    return names


def test_every_url_of_ours_has_an_entry():
    assert our_url_names() == set(MATRIX)


@pytest.fixture
def world(db, settings, lead, member, other_institution, institution, bureau):
    settings.BUREAU_REQUIRE_MFA = True
    give_second_factor(bureau.user)
    a = lead.led_coalitions.get()
    lead_b = make_person("Erik", "Smit", other_institution, account=True)
    b = make_coalition("Kansengelijkheid", leads=[lead_b])
    other = make_person("Dana", "Dekker", other_institution, account=True)
    make_membership(other, b.rings.get(order=1))
    bureau_no_2fa = make_person(
        "Bea", "Zonder", bureau.institution, account=True, is_bureau_staff=True
    )
    membership = make_membership(member, a.rings.get(order=2))
    request = coalition_services.join_ring(
        make_person("Vera", "Verzoek", institution), a.rings.get(order=1)
    )
    invitation = coalition_services.invite_to_ring(member, b.rings.get(order=2), by=lead_b)
    joint = make_session(title="Netwerkdag")
    SessionPart.objects.create(
        session=joint, kind="plenair", title="Plenair", start=joint.start, end=joint.end
    )
    event_services.add_coalitions(joint, [a, b], by=None)
    registration = event_services.register(member, joint)
    item = Input.objects.create(coalition=a, author=member, title="Vraag", body="?")
    output = Output(coalition=a, ring=a.rings.get(order=1), visibility="ring", title="Kern")
    output.file.save("kern.txt", ContentFile(b"alleen voor de kern"), save=True)
    feed = CalendarFeed.objects.create(person=member)
    # The yearly cycle: an open round with a proposal, a closed one with an undecided proposal,
    # a recruiting coalition, and E (led by the lead of A, the member in its Kern) evaluating.
    now = timezone.now()
    open_round = coalition_services.open_round(
        by=bureau,
        school_year="2027-2028",
        opens_at=now - dt.timedelta(days=1),
        closes_at=now + dt.timedelta(days=30),
    )
    proposal = coalition_services.propose(
        open_round, by=other, title="Thema", question="?", why_now="Nu", desired_output="Iets"
    )
    closed_round = ThemeRound.objects.create(
        school_year="2026-2027",
        opens_at=now - dt.timedelta(days=90),
        closes_at=now - dt.timedelta(days=30),
    )
    undecided = Proposal.objects.create(
        round=closed_round, title="Oud", question="?", why_now="-", desired_output="-"
    )
    recruiting = make_coalition("Werving", leads=[lead_b], status="werving")
    evaluating = make_coalition("Evaluatie", leads=[lead], status="evaluatie")
    make_membership(member, evaluating.rings.get(order=1))
    people = {
        MEMBER: member,
        OTHER: other,
        LEAD_A: lead,
        LEAD_B: lead_b,
        BUREAU: bureau,
        BUREAU_NO_2FA: bureau_no_2fa,
    }
    kwargs = {
        "bureau_signal": {"key": "nowhere"},
        "members:institution_detail": {"pk": institution.pk},
        "members:institution_edit": {"pk": institution.pk},
        "members:institution_end_membership": {"pk": institution.pk},
        "members:person_detail": {"pk": member.pk},
        "members:person_edit": {"pk": member.pk},
        "members:person_invite": {"pk": member.pk},
        "members:retention_postpone": {"pk": member.pk},
        "members:import": {"kind": "people"},
        "members:export": {"kind": "people"},
        "members:accept_invitation": {"token": "onbekend"},
        "members:request_new_invitation": {"token": "onbekend"},
        "members:confirm_factor": {"token": "onbekend"},
        "members:outbox_resend": {
            "pk": Notification.objects.create(
                kind="registration",
                person=member,
                occasion="x",
                subject="Bevestigd",
                body="…",
                status="sent",
                sent_at=timezone.now(),
            ).pk
        },
        "members:unsubscribe": {"token": notify.unsubscribe_token(member.pk, "weekly_digest")},
        "coalitions:output_download": {"pk": output.pk},
        "coalitions:detail": {"pk": a.pk},
        "coalitions:edit": {"pk": a.pk},
        "coalitions:transition": {"pk": a.pk},
        "coalitions:board": {"pk": a.pk},
        "coalitions:ring_create": {"pk": a.pk},
        "coalitions:ring_edit": {"pk": a.pk, "ring_pk": a.rings.get(order=1).pk},
        "coalitions:ring_invite": {"pk": a.pk},
        "coalitions:input_create": {"pk": a.pk},
        "coalitions:output_create": {"pk": a.pk},
        "coalitions:input_reply": {"pk": item.pk},
        "coalitions:ring_join": {"ring_pk": a.rings.get(order=2).pk},
        "coalitions:request_accept": {"membership_pk": request.pk},
        "coalitions:request_decline": {"membership_pk": request.pk},
        "coalitions:membership_move": {"membership_pk": membership.pk},
        "coalitions:membership_end": {"membership_pk": membership.pk},
        "coalitions:membership_leave": {"membership_pk": membership.pk},
        "coalitions:move_withdraw": {"membership_pk": membership.pk},
        "coalitions:invitation_respond": {"membership_pk": invitation.pk},
        "coalitions:round": {"pk": open_round.pk},
        "coalitions:round_edit": {"pk": open_round.pk},
        "coalitions:round_close": {"pk": open_round.pk},
        "coalitions:ranking": {"pk": open_round.pk},
        "coalitions:proposal_create": {"pk": open_round.pk},
        "coalitions:proposal": {"pk": proposal.pk},
        "coalitions:proposal_support": {"pk": proposal.pk},
        "coalitions:proposal_decide": {"pk": undecided.pk},
        "coalitions:recruitment_join": {"ring_pk": recruiting.rings.get(order=2).pk},
        "coalitions:candidates": {"pk": a.pk},
        "coalitions:evaluation": {"pk": evaluating.pk},
        "events:presentations": {
            "pk": make_session(title="Jaarconferentie", kind="jaarconferentie").pk
        },
        "events:feed": {"token": feed.token},
        "events:cancel_registration": {"pk": registration.pk},
        "events:mark": {"pk": registration.pk},
        "events:part_edit": {"pk": joint.pk, "part_pk": joint.parts.get(coalition=a).pk},
    }
    for name in MATRIX:
        if name.startswith("events:") and name not in kwargs and _takes_pk(name):
            kwargs[name] = {"pk": joint.pk}
    posts = {
        "coalitions:membership_move": {f"m{membership.pk}-ring": a.rings.get(order=1).pk},
        "events:walk_in": {"person": member.pk},
        "events:mark": {"attended": "1"},
        "coalitions:input_create": {"kind": "vraag", "title": "Vraag", "body": "Waarom?"},
        "coalitions:transition": {"status": "evaluatie", "confirm": "1"},
        "coalitions:membership_leave": {"confirm": "1"},
        "events:publish": {"confirm": "1"},
        "events:cancel_registration": {"confirm": "1"},
        "events:programme_coalitions": {"coalitions": [b.pk]},
        "events:add_guest": {"first_name": "G", "last_name": "Ast", "email": "g@x.example"},
        "coalitions:proposal_create": {
            "title": "Nieuw",
            "question": "Hoe?",
            "why_now": "Nu",
            "desired_output": "Een gids",
        },
        "coalitions:proposal": {"body": "Eens"},
        "coalitions:evaluation": {"delivered": "Een gids", "advice": "Begin klein"},
    }
    meeting = event_services.create_session(
        by=lead,
        title="Eigen overleg",
        kind="coalitiebijeenkomst",
        organiser_coalition=a,
        status="concept",
        start=joint.start,
        end=joint.end,
    )
    return {"people": people, "kwargs": kwargs, "posts": posts, "meeting": meeting}


def _takes_pk(name: str) -> bool:
    try:
        reverse(name, kwargs={"pk": 1})
    except NoReverseMatch:
        return False
    return True


def _denied(response, persona: str) -> bool:
    if response.status_code in (403, 404):
        return True
    if response.status_code == 302:
        location = response["Location"]
        return location.startswith(reverse("account_login")) or (
            persona == BUREAU_NO_2FA and location == reverse("mfa_activate_totp")
        )
    return False


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_the_answer_for_every_visitor(client, world, name):
    url = reverse(name, kwargs=world["kwargs"].get(name, {})) + QUERY.get(name, "")
    assert _wrong_answers(client, world, name, url, MATRIX[name]) == [], url


@pytest.mark.parametrize("name", sorted(OWN_MEETING))
def test_the_answer_at_a_meeting_the_leads_coalition_organises(client, world, name):
    url = reverse(name, kwargs={"pk": world["meeting"].pk})
    assert _wrong_answers(client, world, name, url, OWN_MEETING[name]) == [], url


def _wrong_answers(client, world, name, url, rights) -> list:
    may_get, may_post = rights
    wrong = []
    for persona in sorted(EVERYONE):
        client.logout()
        if persona != ANON:
            login(client, world["people"][persona])
        for method, allowed in (("get", may_get), ("post", may_post)):
            if method == "get" and allowed is None:
                # A POST-only URL: GET is refused (the anonymous visitor is sent to log in).
                with transaction.atomic():
                    response = client.get(url)
                    transaction.set_rollback(True)
                if (
                    persona != ANON
                    and response.status_code != 405
                    and not _denied(response, persona)
                ):
                    wrong.append((persona, "GET", response.status_code, "expected 405"))
                continue
            if allowed is None:
                continue
            with transaction.atomic():
                before = snapshot() if method == "post" and persona not in allowed else None
                if method == "get":
                    response = client.get(url)
                else:
                    response = client.post(url, world["posts"].get(name, {}))
                # A refused POST leaves every row as it was (taken before the rollback).
                changed = changes(before, snapshot()) if before is not None else {}
                transaction.set_rollback(True)
            denied = _denied(response, persona)
            if name in (
                "members:accept_invitation",
                "members:request_new_invitation",
                "members:confirm_factor",
            ):
                denied = response.status_code != 404  # an unknown link: 404 for everyone
            if denied and changed:
                wrong.append(
                    (persona, method.upper(), response.status_code, "refused yet changed", changed)
                )
            if persona in allowed and denied:
                wrong.append((persona, method.upper(), response.status_code, "should be allowed"))
            if (
                persona in allowed
                and method == "get"
                and response.status_code not in ALLOWED_GET.get(name, {200})
            ):
                wrong.append((persona, "GET", response.status_code, "allowed GET not a page"))
            if persona not in allowed and not denied:
                wrong.append((persona, method.upper(), response.status_code, "should be refused"))
            if response.status_code >= 500:
                wrong.append((persona, method.upper(), response.status_code, "server error"))
    return wrong
