"""Demo coalitions: the real themes of earlier school years and plausible current ones (DOMAIN.md §11)."""

import datetime as dt
import random

from django.db.models import Count
from django.utils import timezone

from members import activity
from members.models import Action, Person

from . import services
from .models import (
    Coalition,
    Evaluation,
    Input,
    Output,
    Proposal,
    ProposalComment,
    RingMembership,
    Support,
    Theme,
    ThemeRound,
    school_year_of,
)

# (name, theme, assignment, intended output, first year of the school year; None = current year)
# The last field: the coalition's school year, counted from the current one (-1: last year's,
# None: this year's), so the demo network (and its harvest) is the same on any day it is seeded.
COALITIONS = [
    (
        "Data",
        "Data",
        "Maak data bruikbaar voor onderwijsteams, zodat teams beslissingen nemen op basis van feiten.",
        "Handleiding Efficiënt datagebruik",
        -6,
    ),
    (
        "Teams aan zet",
        "Teams aan zet",
        "Hoe gaan onderwijsteams zelf aan de slag met kwaliteitszorg?",
        "wegwijsinkwaliteit.nl",
        -6,
    ),
    (
        "Online onderwijs",
        "Online onderwijs",
        "Stel vanuit studentperspectief voorwaarden op voor goede online lessen.",
        "Checklist online onderwijs",
        -6,
    ),
    (
        "Data 2.0",
        "Data",
        "Verken hoe data samengevoegd en geduid kunnen worden, richting prognoses.",
        "Visual voor databespreking in teams",
        -5,
    ),
    (
        "Teams aan zet 2.0",
        "Teams aan zet",
        "Implementeer het gedachtengoed over kwaliteitscultuur in teams.",
        "Praatplaat",
        -5,
    ),
    (
        "Data 3.0",
        "Data",
        "Verdiep en verbreed het datagebruik in teams, in verbinding met MBO Digitaal.",
        "Handreiking datagebruik",
        -3,
    ),
    (
        "Teams aan zet 3.0",
        "Teams aan zet",
        "Bouw voort op de eerdere opbrengsten zonder werk over te doen.",
        "Aanvullingen op wegwijsinkwaliteit.nl",
        -3,
    ),
    (
        "Flexibilisering",
        "Flexibilisering",
        "Wat vraagt flexibel en modulair onderwijs van de kwaliteitsborging, in verbinding met CINOP?",
        "Handreiking kwaliteitsborging flexibel onderwijs",
        -3,
    ),
    (
        "Sectorbreed gedachtengoed over kwaliteit",
        "Gedachtengoed kwaliteit",
        "Vertaal het referentiewaardenmodel naar een gedeelde taal en werkwijze voor teams.",
        "Werkvormen bij het referentiewaardenmodel",
        -2,
    ),
    (
        "Kwaliteit van examinering",
        "Examinering",
        "Deel goede praktijken voor borging van examenkwaliteit binnen teams en examencommissies.",
        "Toolbox examenkwaliteit",
        -2,
    ),
    (
        "Student als partner",
        "Studentbetrokkenheid",
        "Ontwikkel werkvormen waarin studenten meebepalen in de kwaliteitscyclus van hun opleiding.",
        "Werkvormenkaart",
        -1,
    ),
    (
        "Werkveld aan tafel",
        "Werkveld",
        "Versterk de dialoog met het regionale werkveld over de kwaliteit van de bpv.",
        "Gespreksleidraad bpv-kwaliteit",
        -1,
    ),
    (
        "Verkenning sectorkeurmerk kwaliteitszorg",
        "Keurmerk",
        "Verken of en hoe een sectoreigen keurmerk voor kwaliteitszorg vertrouwen kan opbouwen bij stakeholders.",
        "Verkenning met scenario's",
        None,
    ),
    (
        "Leven lang ontwikkelen",
        "Leven lang ontwikkelen",
        "Hoe borg je kwaliteit van flexibele trajecten voor volwassen en werkende lerenden?",
        "Kwaliteitskader flexibele trajecten",
        None,
    ),
    (
        "Peer review in teams",
        "Peer review",
        "Ontwerp een lichte peer-reviewaanpak tussen teams van verschillende instellingen.",
        "Draaiboek peer review",
        None,
    ),
    (
        "Kansengelijkheid",
        "Kansengelijkheid",
        "Gebruik data en dialoog om ongelijke kansen in instroom en doorstroom zichtbaar te maken.",
        "Dashboardvoorbeelden en gespreksleidraad",
        None,
    ),
    (
        "Kwaliteit van samenwerken",
        "Samenwerken",
        "Onderzoek wat goed netwerken vraagt van coalitietrekkers en deelnemers.",
        "Spelregels voor netwerken",
        None,
    ),
    (
        "Burgerschap",
        "Burgerschap",
        "Maak zichtbaar hoe teams de kwaliteit van burgerschapsonderwijs volgen en verbeteren.",
        "Instrument burgerschap",
        None,
    ),
]
REGIONS = [
    "Noord",
    "Oost",
    "Zuid",
    "West",
    "Midden",
    "Randstad",
    "Brabant",
    "Limburg",
    "Zeeland",
    "Friesland",
]


# An output's kind follows from its title (a checklist is a checklist); the rest is a guide.
OUTPUT_KINDS = [
    ("checklist", "checklist"),
    ("praatplaat", "praatplaat"),
    ("visual", "praatplaat"),
    ("toolbox", "toolbox"),
    ("wegwijsinkwaliteit", "toolbox"),
    ("instrument", "instrument"),
    ("kader", "instrument"),
    ("dashboard", "instrument"),
    ("verkenning", "verslag"),
    ("spelregels", "handreiking"),
    ("werkvormen", "handreiking"),
    ("handleiding", "handreiking"),
    ("handreiking", "handreiking"),
    ("leidraad", "handreiking"),
    ("draaiboek", "handreiking"),
]


def output_kind(title: str) -> str:
    title = title.lower()
    return next((kind for word, kind in OUTPUT_KINDS if word in title), "handreiking")


def _goal(output: str) -> str:
    """What the coalition aims for by the end (Doel), beside the question it got (Opdracht)."""
    return (
        f"Aan het eind van het schooljaar ligt er {output[0].lower() + output[1:]}, "
        "uitgeprobeerd door teams van ten minste drie instellingen en bruikbaar voor elke "
        "mbo-instelling."
    )


def _at_noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, 12))


INPUTS = [
    (
        "vraag",
        "Hoe betrekken we studenten bij de evaluatie?",
        "Bij ons lukt het niet om studenten structureel aan tafel te krijgen. Hoe doen andere instellingen dat?",
    ),
    (
        "idee",
        "Koppel aan de instellingsdialoog",
        "Kunnen we de opbrengst meenemen in de volgende instellingsdialoog als gespreksonderwerp?",
    ),
    (
        "casus",
        "Team Zorg & Welzijn wil aansluiten",
        "Een onderwijsteam wil de aanpak dit voorjaar uitproberen en zoekt een meedenker.",
    ),
]


def _seed_people(
    coalition: Coalition, people: list[Person], rng: random.Random, demo: dict
) -> None:
    """Leads and a believable core and flexible ring, through the same services the pages use."""
    rings = {r.order: r for r in services.create_default_rings(coalition)}
    if coalition.memberships.exists():
        return
    leads = list(coalition.leads.all())
    chosen = [p for p in rng.sample(people, min(len(people), 30)) if p not in leads]
    core, flexible = chosen[: rng.randint(3, 5)], chosen[8 : 8 + rng.randint(10, 20)]
    for person in leads + core:
        services.invite_to_ring(person, rings[1], by=leads[0] if leads else None)
        membership = coalition.memberships.get(person=person, status=RingMembership.Status.INVITED)
        services.accept_invitation(membership, person=person)
    for person in flexible:
        services.join_ring(person, rings[2])
    if coalition.status != Coalition.Status.CLOSED:
        requester = chosen[6]
        services.join_ring(
            requester, rings[1], motivation="Ik wil graag actief meebouwen aan de opbrengst."
        )
    member = demo.get("lid")
    if member is not None and coalition.name == "Peer review in teams":
        services.join_ring(member, rings[2])


def _date_history(coalition: Coalition) -> None:
    """A closed coalition's history happened in its own year, not on the day of the seeding:
    its output in May, evaluatie from June, afgerond at the planned end."""
    end = coalition.planned_end
    coalition.outputs.update(created_at=_at_noon(end - dt.timedelta(days=45)))
    changes = Action.objects.filter(
        verb="coalition.status_changed", scope=activity.scope_of(coalition)
    ).order_by("pk")
    for change, day in zip(changes, [end - dt.timedelta(days=29), end], strict=False):
        Action.objects.filter(pk=change.pk).update(at=_at_noon(day))


def _joined_at_the_start(coalition: Coalition) -> None:
    """The places of the made-up network began when the coalition did (not today), so the
    sessions held since count for the ring's agreements on the first day of the demo."""
    start = _at_noon(coalition.start)
    coalition.memberships.filter(status=RingMembership.Status.ACTIVE, started_at__gt=start).update(
        started_at=start, changed_at=start
    )


def seed_coalitions(*, scale: int = 1, rng: random.Random, demo: dict) -> list[Coalition]:
    today = timezone.localdate()
    current_first = int(school_year_of(today)[:4])
    people = list(
        Person.objects.filter(is_bureau_staff=False, user__isnull=True).order_by("pk")[
            : 400 * scale
        ]
    )
    bureau_staff = list(Person.objects.filter(is_bureau_staff=True).order_by("pk"))
    rows = []
    for name, theme, assignment, output, offset in COALITIONS:
        rows.append((name, theme, assignment, output, current_first + (offset or 0)))
    # Bigger data sets (benchmarks): regional variants of the themes, about 40 per scale step.
    for copy in range(2, scale + 1):
        for i in range(40):
            name, theme, assignment, output, _offset = COALITIONS[i % len(COALITIONS)]
            region = REGIONS[i % len(REGIONS)]
            year = current_first - (i % 5)
            rows.append((f"{name} – {region} {copy}-{i}", theme, assignment, output, year))

    themes = {}
    for _name, theme, *_rest in COALITIONS:
        themes[theme] = Theme.objects.filter(name__iexact=theme).first() or Theme.objects.create(
            name=theme
        )
    coalitions = []
    for name, theme, assignment, output, first in rows:
        closed = first < current_first
        coalition, created = Coalition.objects.get_or_create(
            name=name,
            school_year=f"{first}-{first + 1}",
            defaults={
                "theme": themes[theme],
                "assignment": assignment,
                "intended_output": output,
                "goal": _goal(output),
                "start": dt.date(first, 9, 1),
                "planned_end": dt.date(first + 1, 6, 30),
                "status": Coalition.Status.ACTIVE,
                "bureau_contact": rng.choice(bureau_staff) if bureau_staff else None,
            },
        )
        if created:
            leads = rng.sample(people, 2) if people else []
            if name == "Peer review in teams" and demo.get("trekker"):
                leads = [demo["trekker"]]
            coalition.leads.add(*leads)
            _seed_people(coalition, people, rng, demo)
            _joined_at_the_start(coalition)
            if closed:
                Output.objects.create(
                    coalition=coalition,
                    title=output,
                    kind=output_kind(output),
                    description=f"Opbrengst van de coalitie {name} ({first}-{first + 1}).",
                    url="https://wegwijsinkwaliteit.nl/",
                    visibility=Output.Visibility.PUBLIC,
                    created_by=leads[0] if leads else None,
                )
                for status in (Coalition.Status.EVALUATING, Coalition.Status.CLOSED):
                    services.transition(coalition, status, by=coalition.bureau_contact)
                coalition.refresh_from_db()
                _date_history(coalition)
            else:
                kind, title, body = INPUTS[len(coalitions) % len(INPUTS)]
                author = coalition.memberships.active().order_by("pk").last()
                Input.objects.create(
                    coalition=coalition,
                    kind=kind,
                    title=title,
                    body=body,
                    author=author.person if author else None,
                )
        elif demo.get("trekker") and name == "Peer review in teams":
            coalition.leads.add(demo["trekker"])
        coalitions.append(coalition)
    return coalitions


# The yearly cycle: last year's closed round (the current coalitions came from it) and this
# year's open round, the line of the themes, and lessons of closed coalitions.

LINES = [("Data", "Data 2.0"), ("Data 2.0", "Data 3.0"), ("Teams aan zet", "Teams aan zet 2.0")]
LINES += [("Teams aan zet 2.0", "Teams aan zet 3.0")]
DECLINED = (
    "Digitale toetsing",
    "Hoe borgen we de kwaliteit van digitale toetsen over instellingen heen?",
    "Valt grotendeels samen met de coalitie Kwaliteit van examinering; we nemen de vraag daar mee.",
)
OPEN_THEMES = [
    (
        "AI in het onderwijs",
        "Hoe borgen teams de kwaliteit van onderwijs waarin studenten en docenten AI gebruiken?",
        "Instellingen stellen nu hun beleid op; samen voorkomen we dat ieder het wiel uitvindt.",
        "Een gespreksleidraad voor teams en examencommissies.",
    ),
    (
        "Welzijn van studenten",
        "Hoe nemen we welzijn van studenten mee in de kwaliteitscyclus van opleidingen?",
        "Uitval door welzijnsproblemen neemt toe; teams vragen om houvast.",
        "Indicatoren en werkvormen voor teamgesprekken.",
    ),
    (
        "Data 4.0",
        "Hoe gebruiken teams prognoses zonder dat data het gesprek overnemen?",
        "Na Data 3.0 hebben teams dashboards, maar het duiden blijft lastig.",
        "Een praatplaat voor het duiden van prognoses.",
    ),
]
LESSONS = {
    "Data 3.0": (
        "Een handreiking datagebruik met voorbeelden van zes teams.",
        "Heldere opdracht versus ruimte: MBO Digitaal vroeg om één standaard, teams om maatwerk.",
        "Teams brachten hun eigen dashboard mee en bespraken het met een kritische vriend.",
        "Houd de verbinding met MBO Digitaal, maar laat teams de vragen kiezen.",
    ),
    "Flexibilisering": (
        "Een handreiking kwaliteitsborging voor flexibel en modulair onderwijs.",
        "Laagdrempelig versus vrijblijvend: veel volgers, weinig meedoeners.",
        "Casussen uit de flexibele ring maakten de handreiking concreet.",
        "Vraag bij aanmelding voor de kern om een vaste inzet per periode.",
    ),
    "Kwaliteit van examinering": (
        "Een toolbox examenkwaliteit voor teams en examencommissies.",
        "Delen binnen en buiten: examencommissies deelden liever binnen de kern.",
        "Elke bijeenkomst een echte casus uit een examencommissie.",
        "Maak vooraf afspraken over wat buiten de coalitie gedeeld mag worden.",
    ),
    "Data 2.0": (
        "Een visual voor databespreking in teams, getest bij vier instellingen.",
        "Heldere opdracht versus ruimte: teams wilden eigen vragen inbrengen.",
        "Elke bijeenkomst begon met een echte casus uit een team.",
        "Begin bij de vraag van teams, niet bij het dashboard.",
    ),
    "Teams aan zet 2.0": (
        "Een praatplaat over kwaliteitscultuur en aanvullingen op wegwijsinkwaliteit.nl.",
        "Laagdrempelig versus vrijblijvend: de flexibele ring haakte af zonder vaste momenten.",
        "Tegenlezers uit de flexibele ring gaven scherpe feedback op concepten.",
        "Spreek vaste momenten af voor de flexibele ring.",
    ),
}


def seed_cycle(*, rng: random.Random, demo: dict) -> list[ThemeRound]:
    """Idempotent: the rounds are found by school year, the rest by name."""
    from django.db.models import Q

    today = timezone.localdate()
    current_first = int(school_year_of(today)[:4])
    now = timezone.now()
    for earlier, later in LINES:
        Coalition.objects.filter(name=later, continues__isnull=True).update(
            continues=Coalition.objects.filter(name=earlier).order_by("school_year").first()
        )
    for name, (delivered, dilemmas, practices, advice) in LESSONS.items():
        coalition = Coalition.objects.filter(name=name).first()
        if coalition is not None:
            Evaluation.objects.get_or_create(
                coalition=coalition,
                defaults={
                    "delivered": delivered,
                    "dilemmas": dilemmas,
                    "good_practices": practices,
                    "advice": advice,
                    "updated_by": coalition.leads.first(),
                    "updated_at": _at_noon(coalition.planned_end - dt.timedelta(days=20)),
                },
            )
    voters = list(
        Person.objects.filter(erased_at__isnull=True, is_bureau_staff=False)
        .filter(Q(is_ambassador=True) | Q(user__isnull=True))
        .order_by("pk")[:300]
    )
    ambassadors = [p for p in voters if p.is_ambassador] or voters
    bureau = Person.objects.filter(is_bureau_staff=True).order_by("pk").first()

    # Last year's round: the current coalitions were chosen in it.
    closed, _ = ThemeRound.objects.get_or_create(
        school_year=f"{current_first}-{current_first + 1}",
        defaults={
            "opens_at": timezone.make_aware(dt.datetime(current_first - 1, 12, 1, 9)),
            "closes_at": timezone.make_aware(dt.datetime(current_first, 1, 31, 17)),
            "votes_per_person": 3,
            "introduction": "Ambassadeurs en leden brachten thema's in; het bestuur koos in maart.",
            "created_by": bureau,
        },
    )
    decided = timezone.make_aware(dt.datetime(current_first, 3, 15, 12))
    for coalition in Coalition.objects.filter(school_year=closed.school_year).order_by("name")[:6]:
        if Proposal.objects.filter(coalition=coalition).exists():
            continue
        proposer = rng.choice(ambassadors)
        proposal = Proposal.objects.create(
            round=closed,
            title=coalition.name,
            question=coalition.assignment,
            why_now="Het leeft bij onze teams en we willen het niet alleen doen.",
            desired_output=coalition.intended_output or "Een bruikbaar instrument.",
            proposed_by=proposer,
            institution_id=proposer.institution_id,
            status=Proposal.Status.CHOSEN,
            coalition=coalition,
            decided_by=bureau,
            decided_at=decided,
            created_at=closed.opens_at + dt.timedelta(days=rng.randint(1, 40)),
        )
        _support(proposal, rng.sample(voters, min(len(voters), rng.randint(8, 25))))
    title, question, reason = DECLINED
    if not closed.proposals.filter(title=title).exists():
        proposer = rng.choice(ambassadors)
        proposal = Proposal.objects.create(
            round=closed,
            title=title,
            question=question,
            why_now="Steeds meer examens zijn digitaal.",
            desired_output="Een checklist voor examencommissies.",
            proposed_by=proposer,
            institution_id=proposer.institution_id,
            status=Proposal.Status.DECLINED,
            decision_reason=reason,
            decided_by=bureau,
            decided_at=decided,
        )
        _support(proposal, rng.sample(voters, min(len(voters), 4)))

    # This year's round, open now: themes for next school year's coalitions.
    open_round, _ = ThemeRound.objects.get_or_create(
        school_year=f"{current_first + 1}-{current_first + 2}",
        defaults={
            "opens_at": now - dt.timedelta(days=10),
            "closes_at": now + dt.timedelta(days=60),
            "votes_per_person": 3,
            "introduction": "Welk thema moet volgend schooljaar een coalitie worden? Breng het in, steun andere thema's.",
            "created_by": bureau,
        },
    )
    for title, question, why_now, output in OPEN_THEMES:
        if open_round.proposals.filter(title=title).exists():
            continue
        proposer = rng.choice(ambassadors)
        proposal = Proposal.objects.create(
            round=open_round,
            title=title,
            question=question,
            why_now=why_now,
            desired_output=output,
            proposed_by=proposer,
            institution_id=proposer.institution_id,
        )
        _support(proposal, rng.sample(voters, min(len(voters), rng.randint(3, 12))))
        ProposalComment.objects.get_or_create(
            proposal=proposal,
            author=rng.choice(voters),
            defaults={"body": "Herkenbaar; bij ons speelt dit ook. We denken graag mee."},
        )
    member = demo.get("lid")
    first = open_round.proposals.order_by("pk").first()
    if member is not None and first is not None:
        Support.objects.get_or_create(proposal=first, person=member)
    return [closed, open_round]


def _support(proposal: Proposal, people) -> None:
    """Support within each person's votes in the round (the rule services.support holds)."""
    used = dict(
        Support.objects.filter(proposal__round=proposal.round)
        .values_list("person")
        .annotate(n=Count("pk"))
    )
    Support.objects.bulk_create(
        [
            Support(proposal=proposal, person=p)
            for p in people
            if used.get(p.pk, 0) < proposal.round.votes_per_person
        ],
        ignore_conflicts=True,
    )
