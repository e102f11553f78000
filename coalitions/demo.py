"""Demo coalitions: the real themes of earlier school years and plausible current ones (DOMAIN.md §11)."""

import datetime as dt
import random

from django.utils import timezone

from members.models import Person

from . import services
from .models import Coalition, Input, Output, RingMembership, Theme, school_year_of

# (name, theme, assignment, intended output, first year of the school year; None = current year)
COALITIONS = [
    (
        "Data",
        "Data",
        "Maak data bruikbaar voor onderwijsteams, zodat teams beslissingen nemen op basis van feiten.",
        "Handleiding Efficiënt datagebruik",
        2020,
    ),
    (
        "Teams aan zet",
        "Teams aan zet",
        "Hoe gaan onderwijsteams zelf aan de slag met kwaliteitszorg?",
        "wegwijsinkwaliteit.nl",
        2020,
    ),
    (
        "Online onderwijs",
        "Online onderwijs",
        "Stel vanuit studentperspectief voorwaarden op voor goede online lessen.",
        "Checklist online onderwijs",
        2020,
    ),
    (
        "Data 2.0",
        "Data",
        "Verken hoe data samengevoegd en geduid kunnen worden, richting prognoses.",
        "Visual voor databespreking in teams",
        2021,
    ),
    (
        "Teams aan zet 2.0",
        "Teams aan zet",
        "Implementeer het gedachtengoed over kwaliteitscultuur in teams.",
        "Praatplaat",
        2021,
    ),
    (
        "Data 3.0",
        "Data",
        "Verdiep en verbreed het datagebruik in teams, in verbinding met MBO Digitaal.",
        "Handreiking datagebruik",
        2023,
    ),
    (
        "Teams aan zet 3.0",
        "Teams aan zet",
        "Bouw voort op de eerdere opbrengsten zonder werk over te doen.",
        "Aanvullingen op wegwijsinkwaliteit.nl",
        2023,
    ),
    (
        "Flexibilisering",
        "Flexibilisering",
        "Wat vraagt flexibel en modulair onderwijs van de kwaliteitsborging, in verbinding met CINOP?",
        "Handreiking kwaliteitsborging flexibel onderwijs",
        2023,
    ),
    (
        "Sectorbreed gedachtengoed over kwaliteit",
        "Gedachtengoed kwaliteit",
        "Vertaal het referentiewaardenmodel naar een gedeelde taal en werkwijze voor teams.",
        "Werkvormen bij het referentiewaardenmodel",
        2024,
    ),
    (
        "Kwaliteit van examinering",
        "Examinering",
        "Deel goede praktijken voor borging van examenkwaliteit binnen teams en examencommissies.",
        "Toolbox examenkwaliteit",
        2024,
    ),
    (
        "Student als partner",
        "Studentbetrokkenheid",
        "Ontwikkel werkvormen waarin studenten meebepalen in de kwaliteitscyclus van hun opleiding.",
        "Werkvormenkaart",
        2025,
    ),
    (
        "Werkveld aan tafel",
        "Werkveld",
        "Versterk de dialoog met het regionale werkveld over de kwaliteit van de bpv.",
        "Gespreksleidraad bpv-kwaliteit",
        2025,
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


OUTPUT_KINDS = ["handreiking", "toolbox", "praatplaat", "checklist", "instrument", "verslag"]
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
    for name, theme, assignment, output, first in COALITIONS:
        rows.append(
            (name, theme, assignment, output, first if first is not None else current_first)
        )
    # Bigger data sets (benchmarks): regional variants of the themes, about 40 per scale step.
    for copy in range(2, scale + 1):
        for i in range(40):
            name, theme, assignment, output, first = COALITIONS[i % len(COALITIONS)]
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
                "goal": assignment,
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
            if closed:
                Output.objects.create(
                    coalition=coalition,
                    title=output,
                    kind=rng.choice(OUTPUT_KINDS),
                    description=f"Opbrengst van de coalitie {name} ({first}-{first + 1}).",
                    url="https://wegwijsinkwaliteit.nl/",
                    visibility=Output.Visibility.PUBLIC,
                    created_by=leads[0] if leads else None,
                )
                for status in (Coalition.Status.EVALUATING, Coalition.Status.CLOSED):
                    services.transition(coalition, status, by=coalition.bureau_contact)
                coalition.refresh_from_db()
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
