from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from members.models import EmailDomain, Institution, Person
from tests.conftest import login

INSTITUTIONS_CSV = (
    "naam;korte_naam;plaats;type;brin;website;domeinen;lid_sinds;lid_tot\n"
    "Koning Willem I College;KW1C;'s-Hertogenbosch;roc;01KW;https://www.kw1c.nl;kw1c.example;01-08-2014;\n"
    "Cibap;Cibap;Zwolle;vakinstelling;02CB;;cibap.example, cibap.nl;2016-01-01;\n"
)


def upload(client, kind, content: bytes, name="bestand.csv"):
    return client.post(
        reverse("members:import", args=[kind]),
        {"file": SimpleUploadedFile(name, content, "text/csv")},
    )


def confirm(client, kind):
    return client.post(reverse("members:import", args=[kind]), {"confirm": "1"})


def snapshot():
    return (
        list(Institution.objects.order_by("pk").values()),
        list(EmailDomain.objects.order_by("pk").values()),
        list(Person.objects.order_by("pk").values()),
    )


class TestImport:
    def test_a_valid_file_is_previewed_then_imported(self, client, bureau):
        login(client, bureau)
        response = upload(client, "institutions", INSTITUTIONS_CSV.encode())
        assert response.status_code == 200
        assert "Import bevestigen" in response.content.decode()
        assert not Institution.objects.filter(name="Cibap").exists()  # nothing before confirming
        response = confirm(client, "institutions")
        assert response.status_code == 302
        kw1c = Institution.objects.get(brin="01KW")
        assert kw1c.city == "'s-Hertogenbosch"
        assert str(kw1c.member_since) == "2014-08-01"
        assert set(
            Institution.objects.get(brin="02CB").email_domains.values_list("domain", flat=True)
        ) == {"cibap.example", "cibap.nl"}

    def test_one_bad_row_imports_nothing_and_is_reported(self, client, bureau):
        login(client, bureau)
        bad = INSTITUTIONS_CSV + "Foute School;FS;Ergens;roc;ABCD;;;;\n"
        response = upload(client, "institutions", bad.encode())
        body = response.content.decode()
        assert response.status_code == 400
        assert "Een BRIN-code bestaat uit twee cijfers en twee hoofdletters" in body
        assert "Import bevestigen" not in body
        confirm(client, "institutions")
        assert not Institution.objects.filter(
            name__in=["Cibap", "Koning Willem I College", "Foute School"]
        ).exists()

    def test_reimporting_the_same_file_changes_nothing(self, client, bureau):
        login(client, bureau)
        upload(client, "institutions", INSTITUTIONS_CSV.encode())
        confirm(client, "institutions")
        before = snapshot()
        response = upload(client, "institutions", INSTITUTIONS_CSV.encode())
        assert response.content.decode().count("ongewijzigd") >= 2
        response = confirm(client, "institutions")
        assert before == snapshot()
        messages = [str(m) for m in response.wsgi_request._messages]
        assert "0 nieuw, 0 gewijzigd, 2 ongewijzigd" in messages[0]

    def test_an_excel_dutch_file_in_windows_1252_is_read(self, client, bureau, institution):
        login(client, bureau)
        content = "voornaam;tussenvoegsel;achternaam;email;instelling;functie;ambassadeur\r\nRenée;van der;Meer;renee@deltion.example;Deltion College;adviseur kwaliteitszorg;ja\r\n"
        upload(client, "people", content.encode("cp1252"))
        confirm(client, "people")
        person = Person.objects.get(email="renee@deltion.example")
        assert person.first_name == "Renée"
        assert person.infix == "van der"
        assert person.is_ambassador
        assert person.institution == institution

    def test_an_unknown_institution_and_a_duplicate_row_are_reported(
        self, client, bureau, institution
    ):
        login(client, bureau)
        content = (
            "voornaam,achternaam,email,instelling\n"
            "Ann,Aa,ann@deltion.example,Deltion College\n"
            "Bob,Bb,bob@x.example,Onbekend College\n"
            "Ann,Aa,ANN@deltion.example,Deltion College\n"
        )
        body = upload(client, "people", content.encode()).content.decode()
        assert "Onbekende instelling: Onbekend College" in body
        assert "Zelfde als rij 2." in body
        assert not Person.objects.filter(email="ann@deltion.example").exists()

    def test_missing_columns_are_named(self, client, bureau):
        response = upload(login(client, bureau), "people", b"naam;plaats\nX;Y\n")
        assert response.status_code == 400
        assert (
            "Ontbrekende kolommen: achternaam, email, instelling, voornaam"
            in response.content.decode()
        )


class TestExport:
    def test_an_export_imports_again_without_changes(
        self, client, bureau, institution, other_institution, member
    ):
        institution.brin = "25PZ"
        institution.save()
        login(client, bureau)
        for kind in ("institutions", "people"):
            response = client.get(reverse("members:export", args=[kind]))
            content = b"".join(response.streaming_content)
            assert content.startswith("\ufeff".encode())
            before = snapshot()
            body = upload(client, kind, content).content.decode()
            assert "Import bevestigen" in body, body
            confirm(client, kind)
            assert snapshot() == before

    def test_a_formula_like_cell_is_exported_as_text(self, client, bureau, institution):
        institution.notes = '=HYPERLINK("http://kwaad.example")'
        institution.save()
        content = b"".join(
            login(client, bureau)
            .get(reverse("members:export", args=["institutions"]))
            .streaming_content
        )
        assert "'=HYPERLINK" in content.decode("utf-8-sig")
