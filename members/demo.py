"""Demo data for the members app: real mbo institutions (DOMAIN.md §8), fictional people."""

import random
import re

from allauth.account.models import EmailAddress
from django.conf import settings

from .models import EmailDomain, Institution, Person, User

BUREAU_NAME = "Bureau Kwaliteitsnetwerk mbo"

# (name, short name, kind, city) — current names, cities from DOMAIN.md §8a.
INSTITUTIONS = [
    ("ROC van Amsterdam", "ROCvA", "roc", "Amsterdam"),
    ("ROC van Flevoland", "ROCvF", "roc", "Almere"),
    ("Nova College", "Nova", "roc", "Haarlem"),
    ("Horizon College", "Horizon", "roc", "Alkmaar"),
    ("Regio College", "Regio", "roc", "Zaandam"),
    ("Vonk", "Vonk", "roc", "Alkmaar"),
    ("ROC Mondriaan", "Mondriaan", "roc", "Den Haag"),
    ("mboRijnland", "mboRijnland", "roc", "Leiden"),
    ("Albeda", "Albeda", "roc", "Rotterdam"),
    ("Zadkine", "Zadkine", "roc", "Rotterdam"),
    ("Da Vinci College", "Da Vinci", "roc", "Dordrecht"),
    ("Curio", "Curio", "roc", "Breda"),
    ("Scalda", "Scalda", "roc", "Terneuzen"),
    ("ROC Tilburg", "ROC Tilburg", "roc", "Tilburg"),
    ("Koning Willem I College", "KW1C", "roc", "'s-Hertogenbosch"),
    ("Summa College", "Summa", "roc", "Eindhoven"),
    ("ROC ter AA", "ter AA", "roc", "Helmond"),
    ("ROC de Leijgraaf", "Leijgraaf", "roc", "Veghel"),
    ("Gilde Opleidingen", "Gilde", "roc", "Roermond"),
    ("VISTA college", "VISTA", "roc", "Heerlen"),
    ("ROC Nijmegen", "ROC Nijmegen", "roc", "Nijmegen"),
    ("Rijn IJssel", "Rijn IJssel", "roc", "Arnhem"),
    ("ROC A12", "A12", "roc", "Ede"),
    ("ROC Rivor", "Rivor", "roc", "Tiel"),
    ("Graafschap College", "Graafschap", "roc", "Doetinchem"),
    ("Aventus", "Aventus", "roc", "Apeldoorn"),
    ("Landstede MBO", "Landstede", "roc", "Zwolle"),
    ("Deltion College", "Deltion", "roc", "Zwolle"),
    ("ROC van Twente", "ROC van Twente", "roc", "Hengelo"),
    ("Alfa-college", "Alfa", "roc", "Groningen"),
    ("Noorderpoort", "Noorderpoort", "roc", "Groningen"),
    ("Drenthe College", "Drenthe", "roc", "Assen"),
    ("Firda", "Firda", "roc", "Leeuwarden"),
    ("ROC Midden Nederland", "ROC MN", "roc", "Utrecht"),
    ("MBO Utrecht", "MBO Utrecht", "roc", "Utrecht"),
    ("MBO Amersfoort", "MBO Amersfoort", "roc", "Amersfoort"),
    ("Yuverta", "Yuverta", "aoc", "Boxtel"),
    ("Aeres MBO", "Aeres", "aoc", "Ede"),
    ("Terra", "Terra", "aoc", "Groningen"),
    ("Zone.college", "Zone", "aoc", "Zwolle"),
    ("Lentiz onderwijsgroep", "Lentiz", "aoc", "Naaldwijk"),
    ("STC Group", "STC", "vakinstelling", "Rotterdam"),
    ("Grafisch Lyceum Rotterdam", "GLR", "vakinstelling", "Rotterdam"),
    ("Grafisch Lyceum Utrecht", "GLU", "vakinstelling", "Utrecht"),
    ("Mediacollege Amsterdam", "MA", "vakinstelling", "Amsterdam"),
    ("Hout- en Meubileringscollege", "HMC", "vakinstelling", "Amsterdam"),
    ("Nimeto Utrecht", "Nimeto", "vakinstelling", "Utrecht"),
    ("Cibap", "Cibap", "vakinstelling", "Zwolle"),
    ("SintLucas", "SintLucas", "vakinstelling", "Eindhoven"),
    ("De Rooi Pannen", "Rooi Pannen", "vakinstelling", "Eindhoven"),
    ("Hoornbeeck College", "Hoornbeeck", "vakinstelling", "Amersfoort"),
]
# A few institutions that are not (or no longer) members, for realism (DOMAIN.md §8).
NOT_MEMBERS = {"Regio College", "Nimeto Utrecht", "De Rooi Pannen"}

FIRST_NAMES = [
    "Anouk",
    "Bas",
    "Charlotte",
    "Daan",
    "Esther",
    "Femke",
    "Gijs",
    "Hanneke",
    "Ilse",
    "Joost",
    "Karin",
    "Lars",
    "Marloes",
    "Niels",
    "Olga",
    "Pieter",
    "Quinten",
    "Roos",
    "Sander",
    "Tessa",
    "Ugur",
    "Vera",
    "Wouter",
    "Yasmina",
    "Zeynep",
    "Annelies",
    "Bram",
    "Carmen",
    "Dirk",
    "Eva",
    "Fatima",
    "Gerrit",
    "Hatice",
    "Iris",
    "Jeroen",
    "Kim",
    "Lotte",
    "Mohamed",
    "Nadia",
    "Ruben",
]
LAST_NAMES = [
    ("", "Jansen"),
    ("de", "Boer"),
    ("van", "Dijk"),
    ("", "Bakker"),
    ("", "Visser"),
    ("", "Smit"),
    ("", "Meijer"),
    ("de", "Jong"),
    ("van der", "Linden"),
    ("", "Mulder"),
    ("", "Bos"),
    ("", "Vos"),
    ("van", "Leeuwen"),
    ("", "Dekker"),
    ("", "Brouwer"),
    ("de", "Wit"),
    ("", "Dijkstra"),
    ("", "Hendriks"),
    ("van den", "Berg"),
    ("", "Koster"),
    ("", "Prins"),
    ("", "Huisman"),
    ("", "Yilmaz"),
    ("", "El Amrani"),
    ("", "Kuipers"),
    ("van", "Wijk"),
    ("", "Postma"),
    ("ter", "Horst"),
]
FUNCTIONS = [
    "kwaliteitsadviseur",
    "beleidsadviseur kwaliteit",
    "adviseur kwaliteitszorg",
    "onderwijsadviseur",
    "teamleider",
    "opleidingsmanager",
    "docent",
    "examencommissielid",
    "directeur onderwijs",
    "lid College van Bestuur",
]

DEMO_ACCOUNTS = [
    # (e-mail, first name, infix, last name, institution, function, bureau staff)
    (
        "bureau@kwaliteitsnetwerk.example",
        "Bente",
        "",
        "Groen",
        BUREAU_NAME,
        "bureaumedewerker",
        True,
    ),
    (
        "trekker@deltion.example",
        "Thijs",
        "van",
        "Rooij",
        "Deltion College",
        "kwaliteitsadviseur",
        False,
    ),
    ("lid@albeda.example", "Lieke", "", "Albers", "Albeda", "teamleider", False),
]


def domain_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "", name.lower().replace("college", ""))
    return f"{slug or 'instelling'}.example"


def seed_members(*, scale: int = 1, rng: random.Random) -> dict:
    bureau, _ = Institution.objects.update_or_create(
        name=BUREAU_NAME,
        defaults={"short_name": "Bureau", "kind": Institution.Kind.BUREAU, "city": "Utrecht"},
    )
    EmailDomain.objects.get_or_create(
        domain="kwaliteitsnetwerk.example", defaults={"institution": bureau}
    )
    institutions = []
    for copy in range(1, scale + 1):
        for name, short, kind, city in INSTITUTIONS:
            full_name = name if copy == 1 else f"{name} ({copy})"
            institution, _ = Institution.objects.get_or_create(
                name=full_name,
                defaults={
                    "short_name": short,
                    "kind": kind,
                    "city": city,
                    "member_since": f"{2013 + rng.randint(0, 8)}-01-01",
                },
            )
            if name in NOT_MEMBERS and institution.member_until is None and copy == 1:
                institution.member_until = "2023-07-31"
                institution.save(update_fields=["member_until"])
            domain = domain_for(name) if copy == 1 else domain_for(f"{name}{copy}")
            EmailDomain.objects.get_or_create(domain=domain, defaults={"institution": institution})
            institutions.append(institution)

    # Fictional people: about 90 per institution at scale 1 (≈ 5,000 in all), made in bulk.
    existing = set(Person.objects.values_list("email", flat=True))
    new_people = []
    for institution in institutions:
        domain = institution.email_domains.all()[0].domain
        for n in range(90):
            first = rng.choice(FIRST_NAMES)
            infix, last = rng.choice(LAST_NAMES)
            function = rng.choice(FUNCTIONS)  # drawn before any skip, so re-runs draw the same
            email = f"{first}.{(infix + last).replace(' ', '')}.{n}@{domain}".lower()
            if email in existing:
                continue
            existing.add(email)
            new_people.append(
                Person(
                    first_name=first,
                    infix=infix,
                    last_name=last,
                    email=email,
                    institution=institution,
                    function=function,
                    is_ambassador=(n == 0),
                )
            )
    Person.objects.bulk_create(new_people, batch_size=1000)
    for n, (first, infix, last) in enumerate(
        [("Myrthe", "van der", "Meer"), ("Joris", "", "Ooms")]
    ):
        Person.objects.get_or_create(
            email=f"medewerker{n + 1}@kwaliteitsnetwerk.example",
            defaults={
                "first_name": first,
                "infix": infix,
                "last_name": last,
                "institution": bureau,
                "function": "bureaumedewerker",
                "is_bureau_staff": True,
            },
        )
    demo = seed_demo_accounts() if settings.DEBUG else {}
    return {"bureau": bureau, "institutions": institutions, "demo": demo}


def seed_demo_accounts() -> dict:
    """The three demo logins (password in settings.DEMO_PASSWORD); only ever with DEBUG on."""
    if not settings.DEBUG:
        raise RuntimeError("Demo accounts are only made with DEBUG on.")
    people = {}
    for email, first, infix, last, institution_name, function, bureau_staff in DEMO_ACCOUNTS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=settings.DEMO_PASSWORD)
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        person, _ = Person.objects.update_or_create(
            email=email,
            defaults={
                "first_name": first,
                "infix": infix,
                "last_name": last,
                "function": function,
                "institution": Institution.objects.get(name=institution_name),
                "is_bureau_staff": bureau_staff,
                "user": user,
            },
        )
        people[email.split("@")[0]] = person
    return people
