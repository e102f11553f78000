"""A cached page equals a fresh rendering, for every persona, after any sequence of real changes.

The network is small but has every persona: a visitor, a member of the Kern, a member of the
Flexibele ring, a member of another coalition, the lead, another coalition's lead and the bureau.
A seeded random sequence of real service calls (sign up, cancel, mark, move, accept, leave,
add an output, rename, close, rename a person or an institution, change the session) runs, and
after each one every page with cached fragments is asked with caching on (what people get) and
with caching off (a fresh rendering): after masking CSRF tokens and nonces they must be equal.
The test also shows that it can fail: with the log's version bump removed it finds a stale
page."""

import contextlib
import datetime as dt
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from coalitions import services as coalition_services
from coalitions.models import Output, Ring, RingMembership
from events import services as event_services
from events.models import Registration, Session, SessionPart
from kwaliteitsnetwerk import caching
from members import activity
from members import services as member_services
from members.forms import InstitutionForm, PersonForm
from tests.factories import make_coalition, make_institution, make_membership, make_person

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_only]

MASKS = [
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), 'name="csrfmiddlewaretoken"'),
    (re.compile(r'"X-CSRFToken": "[^"]+"'), '"X-CSRFToken"'),
    (re.compile(r'nonce="[^"]+"'), "nonce"),
]


def masked(html: str) -> str:
    for pattern, replacement in MASKS:
        html = pattern.sub(replacement, html)
    return html


@dataclass
class World:
    personas: dict[str, object]  # name → Person (None: the visitor)
    coalition: object
    other: object
    session: Session
    rng: random.Random
    people: list = field(default_factory=list)  # more members, to sign up and move

    def urls(self) -> list[str]:
        c, o, s = self.coalition.pk, self.other.pk, self.session.pk
        return [
            f"/coalities/{c}/",
            f"/coalities/{o}/",
            f"/coalities/{c}/ringen/",
            f"/bijeenkomsten/{s}/",
            f"/bijeenkomsten/{s}/aanmeldingen/",
            f"/bijeenkomsten/{s}/aanmeldingen/?lijst=wachtlijst",
            f"/bijeenkomsten/{s}/inchecken/",
            f"/bijeenkomsten/{s}/inchecken/?q=ke",
            "/coalities/",
            "/coalities/?mine=1",
            f"/coalities/?institution={self.personas['kern'].institution_id}",
        ]


def build_world(seed: int) -> World:
    deltion = make_institution("Deltion College", domain="deltion.example", short_name="Deltion")
    albeda = make_institution("Albeda", domain="albeda.example")
    office = make_institution("Bureau", domain="kwaliteitsnetwerk.example", kind="bureau")
    bureau = make_person("Alice", "Bakker", office, account=True, is_bureau_staff=True)
    lead = make_person("Bob", "Jansen", deltion, account=True)
    other_lead = make_person("Olga", "Smit", albeda, account=True)
    coalition = make_coalition("Data 3.0", leads=[lead])
    other = make_coalition("Teams aan zet 3.0", leads=[other_lead], theme="Teams aan zet")
    kern, flex = coalition.rings.order_by("order")[:2]
    kern_member = make_person("Karin", "Kern", deltion, account=True)
    flex_member = make_person("Frank", "Flex", albeda, account=True)
    elsewhere = make_person("Eva", "Elders", albeda, account=True)
    make_membership(kern_member, kern)
    make_membership(flex_member, flex)
    make_membership(elsewhere, other.rings.order_by("order").last())
    people = [make_person("Kees", f"Lid{i}", deltion if i % 2 else albeda) for i in range(6)]
    for person in people[:3]:
        make_membership(person, flex)
    start = timezone.now() + dt.timedelta(days=10)
    session = Session.objects.create(
        title="Netwerkbijeenkomst coalities",
        start=start,
        end=start + dt.timedelta(hours=4),
        capacity=4,
        status=Session.Status.PUBLISHED,
        signup_deadline=start - dt.timedelta(days=1),
    )
    SessionPart.objects.create(
        session=session,
        kind="plenair",
        title="Plenair",
        start=start,
        end=start + dt.timedelta(hours=1),
    )
    event_services.add_coalitions(session, [coalition, other], by=bureau)
    Output.objects.create(
        coalition=coalition,
        title="Handreiking datagebruik",
        url="https://example.org/handreiking",
        visibility=Output.Visibility.COALITION,
    )
    Output.objects.create(
        coalition=other,
        title="Praatplaat",
        url="https://example.org/praatplaat",
        visibility=Output.Visibility.NETWORK,
    )
    return World(
        personas={
            "visitor": None,
            "kern": kern_member,
            "flex": flex_member,
            "elsewhere": elsewhere,
            "lead": lead,
            "other_lead": other_lead,
            "bureau": bureau,
        },
        coalition=coalition,
        other=other,
        session=session,
        rng=random.Random(seed),
        people=people,
    )


# The real changes: each picks its subject at random and calls the service (a rule may say no).


def sign_up(w: World):
    p = w.personas
    person = w.rng.choice([*w.people, p["kern"], p["flex"], p["elsewhere"], p["lead"]])
    event_services.register(person, w.session, by=p["bureau"])


def cancel(w: World):
    active = list(w.session.registrations.active())
    if active:
        event_services.cancel(w.rng.choice(active), by=w.personas["bureau"])


def mark(w: World):
    active = list(w.session.registrations.confirmed())
    if active:
        event_services.mark_attendance(
            w.rng.choice(active), attended=w.rng.random() < 0.7, by=w.personas["bureau"]
        )


def move(w: World):
    members = list(RingMembership.objects.active().filter(coalition=w.coalition))
    rings = list(Ring.objects.filter(coalition=w.coalition))
    membership, ring = w.rng.choice(members), w.rng.choice(rings)
    if membership.ring_id != ring.pk:
        coalition_services.move_member(membership, ring, by=w.personas["lead"])


def join_and_accept(w: World):
    outside = [
        p
        for p in w.people
        if not RingMembership.objects.open().filter(person=p, coalition=w.coalition).exists()
    ]
    if outside:
        kern = w.coalition.rings.order_by("order").first()
        membership = coalition_services.join_ring(w.rng.choice(outside), kern, motivation="Graag")
        if membership.is_requested and w.rng.random() < 0.5:
            coalition_services.accept_request(membership, by=w.personas["lead"])


def end_place(w: World):
    members = list(RingMembership.objects.open().filter(coalition=w.coalition))
    if members:
        coalition_services.end_membership(w.rng.choice(members), by=w.personas["lead"])


def add_output(w: World):
    coalition = w.rng.choice([w.coalition, w.other])
    visibility = w.rng.choice(Output.Visibility.values)
    ring = coalition.rings.order_by("order").first() if visibility == "ring" else None
    coalition_services.add_output(
        Output(
            coalition=coalition,
            ring=ring,
            title=f"Opbrengst {w.rng.randint(1, 999)}",
            url="https://example.org/opbrengst",
            visibility=visibility,
        ),
        by=w.personas["lead"],
    )


def rename_coalition(w: World):
    coalition = w.rng.choice([w.coalition, w.other])
    coalition_services.update_coalition(
        coalition,
        by=w.personas["bureau"],
        name=f"{coalition.name.split(' #')[0]} #{w.rng.randint(1, 99)}",
    )


def rename_person(w: World):
    person = w.rng.choice([*w.people, w.personas["kern"], w.personas["flex"]])
    person.refresh_from_db()
    data = {
        "first_name": person.first_name,
        "infix": "",
        "last_name": f"{person.last_name.split('-')[0]}-{w.rng.randint(1, 99)}",
        "email": person.email,
        "institution": person.institution_id,
        "function": "",
        "notes": "",
    }
    form = PersonForm(data, instance=person)
    assert form.is_valid(), form.errors
    member_services.save_person(form, by=w.personas["bureau"])


def rename_institution(w: World):
    institution = w.rng.choice(list(type(w.people[0].institution).objects.exclude(kind="bureau")))
    form = InstitutionForm(instance=institution)
    data = {name: form[name].value() for name in form.fields}
    data["short_name"] = f"Kort{w.rng.randint(1, 99)}"
    data = {k: ("" if v is None else v) for k, v in data.items()}
    bound = InstitutionForm(data, instance=institution)
    if bound.is_valid():
        member_services.save_institution(bound, by=w.personas["bureau"])


def change_session(w: World):
    event_services.change_session(
        w.session,
        by=w.personas["bureau"],
        title=f"Netwerkbijeenkomst {w.rng.randint(1, 99)}",
        capacity=w.rng.choice([3, 4, 6, None]),
    )


def rename_theme(w: World):
    theme = w.rng.choice([w.coalition.theme, w.other.theme])
    coalition_services.rename_theme(
        theme, f"{theme.name.split(' #')[0]} #{w.rng.randint(1, 99)}", by=w.personas["bureau"]
    )


def close_other(w: World):
    other = type(w.other).objects.get(pk=w.other.pk)
    if other.next_status is not None and other.next_status != "actief":
        coalition_services.transition(other, other.next_status, by=w.personas["bureau"])


CHANGES: list[Callable[[World], None]] = [
    sign_up,
    sign_up,
    sign_up,
    mark,
    cancel,
    mark,
    move,
    join_and_accept,
    end_place,
    add_output,
    rename_coalition,
    rename_person,
    rename_institution,
    rename_theme,
    change_session,
    close_other,
]
DOMAIN_ERRORS = (
    event_services.RegistrationError,
    coalition_services.MembershipError,
    coalition_services.TransitionError,
    coalition_services.CycleError,
    coalition_services.ThemeError,
)


def clients_for(world: World) -> dict[str, Client]:
    clients = {}
    for name, person in world.personas.items():
        client = Client()
        if person is not None:
            client.force_login(person.user)
        clients[name] = client
    return clients


FRESH = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}


def differences(world: World, clients: dict[str, Client]) -> list[str]:
    """Every page for every persona: cached (as served) against fresh (caching off)."""
    found = []
    for url in world.urls():
        for name, client in clients.items():
            cached = client.get(url)
            if cached.status_code != 200:
                continue  # not this persona's page (the authorization tests cover who may)
            with override_settings(CACHES={**settings.CACHES, "fragments": FRESH}):
                fresh = client.get(url)
            assert fresh.status_code == 200, (url, name)
            if masked(cached.content.decode()) != masked(fresh.content.decode()):
                found.append(f"{name} {url}")
                if os.environ.get("KN_SHOW_DIFF"):
                    import difflib

                    print(
                        "\n".join(
                            difflib.unified_diff(
                                masked(fresh.content.decode()).splitlines(),
                                masked(cached.content.decode()).splitlines(),
                                "fresh",
                                "cached",
                                lineterm="",
                                n=1,
                            )
                        )[:3000]
                    )
    return found


def run(seed: int, *, changes=None) -> tuple[list[str], int]:
    """The sequence of changes, comparing after each; returns what differed and how many
    fragments the cache served (a test that never hit the cache would prove nothing)."""
    world = build_world(seed)
    clients = clients_for(world)
    if changes is None:  # every kind of change once, in a random order
        changes = world.rng.sample(CHANGES, len(CHANGES))
    hits = 0
    real = caching.cache

    class Counting:
        """The fragments cache, counting what it serves."""

        def __init__(self, cache):
            self.cache = cache

        def get(self, key, *args, **kwargs):
            nonlocal hits
            value = self.cache.get(key, *args, **kwargs)
            hits += value is not None
            return value

        def set(self, *args, **kwargs):
            return self.cache.set(*args, **kwargs)

    with mock.patch.object(caching, "cache", side_effect=lambda: Counting(real())):
        found = differences(world, clients)
        for step, change in enumerate(changes):
            with contextlib.suppress(DOMAIN_ERRORS):
                change(world)
            world.session.refresh_from_db()
            found += [
                f"after step {step} ({change.__name__}): {d}" for d in differences(world, clients)
            ]
            if found:
                break
    return found, hits


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2026, 10, 12, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


def test_every_cached_page_equals_its_fresh_rendering_for_every_persona(frozen):
    found, hits = run(int(os.environ.get("KN_CACHE_SEED", "1")))
    assert found == []
    assert hits > 0


def test_it_finds_a_stale_page_when_a_version_bump_is_missing(frozen, monkeypatch):
    monkeypatch.setattr(activity, "_move_version", lambda obj: None)
    # Renaming a coalition changes the session's facts and the coalition's own pages.
    found, _hits = run(1, changes=[rename_coalition])
    assert found, "without the version bumps a cached page must go stale"


def test_sign_ups_and_attendance_are_registrations_of_the_session(frozen):
    """The changes above reach the data (they are not all refused by a rule)."""
    world = build_world(3)
    for change in CHANGES:
        with contextlib.suppress(DOMAIN_ERRORS):
            change(world)
    assert Registration.objects.filter(session=world.session).exists()
    assert Output.objects.filter(coalition__in=[world.coalition, world.other]).count() > 2
