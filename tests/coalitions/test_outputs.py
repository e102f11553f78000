import errno
import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from coalitions.models import Output
from members.models import Action
from tests.conftest import login
from tests.factories import make_coalition, make_membership, make_person
from tests.state import nothing_changes

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx_bytes():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def outputs(coalition, kern, flex, lead):
    """One output at each level of visibility."""
    made = {}
    for visibility, ring in [
        ("ring", kern),
        ("coalitie", None),
        ("netwerk", None),
        ("openbaar", None),
    ]:
        made[visibility] = Output.objects.create(
            coalition=coalition,
            title=f"Opbrengst {visibility}",
            url="https://example.org/",
            visibility=visibility,
            ring=ring,
            created_by=lead,
        )
    made["flexring"] = Output.objects.create(
        coalition=coalition,
        title="Opbrengst flexring",
        url="https://example.org/",
        visibility="ring",
        ring=flex,
    )
    return made


def visible_titles(client):
    body = client.get(reverse("coalitions:library")).content.decode()
    return {
        title
        for title in ("ring", "coalitie", "netwerk", "openbaar", "flexring")
        if f"Opbrengst {title}<" in body
    }


class TestVisibility:
    def test_a_core_member_sees_every_level(self, client, institution, kern, outputs):
        person = make_person("Kees", "Kern", institution, account=True)
        make_membership(person, kern)
        # The flexible ring's outputs are also for the core, which lies inside it.
        assert visible_titles(login(client, person)) == {
            "ring",
            "coalitie",
            "netwerk",
            "openbaar",
            "flexring",
        }

    def test_a_flexible_ring_member_does_not_see_the_core_output(
        self, client, flex_member, outputs
    ):
        assert visible_titles(login(client, flex_member)) == {
            "coalitie",
            "netwerk",
            "openbaar",
            "flexring",
        }

    def test_the_lead_sees_everything_of_their_coalition(self, client, lead, outputs):
        assert visible_titles(login(client, lead)) == {
            "ring",
            "coalitie",
            "netwerk",
            "openbaar",
            "flexring",
        }

    def test_an_outsider_sees_network_and_public(self, client, outsider, outputs):
        assert visible_titles(login(client, outsider)) == {"netwerk", "openbaar"}

    def test_a_visitor_without_login_sees_only_public(self, client, outputs):
        assert visible_titles(client) == {"openbaar"}

    def test_a_former_member_no_longer_sees_ring_outputs(self, client, institution, kern, outputs):
        person = make_person("Oud", "Lid", institution, account=True)
        make_membership(person, kern, status="beeindigd")
        assert visible_titles(login(client, person)) == {"netwerk", "openbaar"}

    def test_a_core_member_of_another_coalition_sees_only_network_and_public(
        self, client, institution, outputs
    ):
        """The ring rule compares rings of the output's own coalition: a Kern elsewhere (the
        same order number) opens nothing here."""
        elsewhere = make_coalition("Elders")
        person = make_person("Els", "Elders", institution, account=True)
        make_membership(person, elsewhere.rings.get(order=1))
        assert visible_titles(login(client, person)) == {"netwerk", "openbaar"}

    def test_an_output_shows_once_for_someone_inside_in_several_ways(
        self, client, lead, kern, outputs
    ):
        make_membership(lead, kern)
        body = login(client, lead).get(reverse("coalitions:library")).content.decode()
        assert body.count("Opbrengst ring<") == 1
        assert body.count("Opbrengst coalitie<") == 1


class TestUpload:
    def post(self, client, coalition, upload, visibility="coalitie"):
        return client.post(
            reverse("coalitions:output_create", args=[coalition.pk]),
            {
                "title": "Handreiking",
                "kind": "handreiking",
                "visibility": visibility,
                "file": upload,
            },
        )

    def test_a_lead_uploads_a_pdf_and_it_is_served_as_a_download(self, client, lead, coalition):
        response = self.post(
            login(client, lead),
            coalition,
            SimpleUploadedFile("handreiking.pdf", PDF, "application/pdf"),
        )
        assert response.status_code == 302
        output = Output.objects.get()
        download = client.get(reverse("coalitions:output_download", args=[output.pk]))
        assert download["Content-Disposition"].startswith("attachment")
        assert download["X-Content-Type-Options"] == "nosniff"
        assert b"".join(download.streaming_content) == PDF

    def test_an_office_document_is_accepted(self, client, lead, coalition):
        self.post(login(client, lead), coalition, SimpleUploadedFile("verslag.docx", docx_bytes()))
        assert Output.objects.count() == 1

    @pytest.mark.parametrize(
        ("name", "content"),
        [
            ("virus.exe", b"MZ\x90\x00"),
            ("nep.pdf", PNG),
            ("script.html", b"<script>alert(1)</script>"),
            ("leeg.docx", b"PK\x03\x04rommel"),
        ],
    )
    def test_a_disallowed_or_disguised_file_is_refused(
        self, client, lead, coalition, name, content
    ):
        response = self.post(login(client, lead), coalition, SimpleUploadedFile(name, content))
        assert response.status_code == 200
        assert 'id="id_file_error"' in response.content.decode()
        assert not Output.objects.exists()

    def test_an_outsider_cannot_download_a_coalition_file(self, client, lead, outsider, coalition):
        self.post(login(client, lead), coalition, SimpleUploadedFile("handreiking.pdf", PDF))
        output = Output.objects.get()
        assert (
            login(client, outsider)
            .get(reverse("coalitions:output_download", args=[output.pk]))
            .status_code
            == 404
        )

    def test_a_flexible_ring_member_may_not_add_outputs(self, client, flex_member, coalition):
        login(client, flex_member)
        with nothing_changes():
            response = self.post(client, coalition, SimpleUploadedFile("a.pdf", PDF))
        assert response.status_code == 403

    def test_ring_visibility_needs_a_ring(self, client, lead, coalition):
        response = self.post(
            login(client, lead), coalition, SimpleUploadedFile("a.pdf", PDF), visibility="ring"
        )
        assert 'id="id_ring_error"' in response.content.decode()


def test_the_library_runs_a_fixed_number_of_queries(
    client, outsider, lead, django_assert_max_num_queries
):
    login(client, outsider).get(reverse("home"))

    def grow(n):
        for _ in range(n):
            coalition = make_coalition(leads=[lead])
            for visibility in ("netwerk", "openbaar", "coalitie"):
                Output.objects.create(
                    coalition=coalition,
                    title="O",
                    url="https://example.org/",
                    visibility=visibility,
                )

    grow(2)
    with django_assert_max_num_queries(15) as small:
        client.get(reverse("coalitions:library"))
    grow(10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("coalitions:library"))


class TestAnUploadThatCannotBeStored:
    """A full or read-only disk (the suite runs as root, so chmod would not stop a write: the
    storage itself raises the OSError the kernel gives)."""

    TYPED = {
        "title": "Handreiking collegiale consultatie",
        "kind": "handreiking",
        "description": "Wat we in drie rondes leerden & wat we anders zouden doen.",
        "visibility": "netwerk",
    }

    def post(self, client, coalition):
        return client.post(
            reverse("coalitions:output_create", args=[coalition.pk]),
            {**self.TYPED, "file": SimpleUploadedFile("handreiking.pdf", PDF, "application/pdf")},
        )

    @pytest.mark.parametrize(
        "error",
        [
            OSError(errno.ENOSPC, "No space left on device"),
            OSError(errno.EROFS, "Read-only file system"),
        ],
    )
    def test_it_says_so_beside_the_file_and_keeps_what_was_typed(
        self, client, lead, coalition, settings, monkeypatch, caplog, error
    ):
        from django.core.files.storage import FileSystemStorage

        def refuse(storage, name, content):
            raise error

        monkeypatch.setattr(FileSystemStorage, "_save", refuse)
        client.raise_request_exception = True  # a 500 would fail the test here
        response = self.post(login(client, lead), coalition)
        assert response.status_code == 503
        page = response.content.decode()
        error_at = page.index('id="id_file_error"')
        assert "Het bestand kon niet worden opgeslagen" in page[error_at:]
        file_input = page[page.index('name="file"') :].split(">", 1)[0]
        assert 'aria-describedby="id_file_error"' in file_input or "id_file_error" in file_input
        assert 'value="Handreiking collegiale consultatie"' in page
        assert "Wat we in drie rondes leerden &amp; wat we anders zouden doen." in page
        assert '<option value="netwerk" selected>' in page
        assert not Output.objects.exists()
        assert not Action.objects.filter(verb="output.added").exists()
        assert not [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]
        assert "not stored" in caplog.text

    def test_an_allowed_file_is_read_into_memory_so_only_the_storage_writes_to_disk(self):
        from django.conf import settings

        from coalitions.uploads import MAX_BYTES

        assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE > MAX_BYTES

    def test_a_row_that_fails_after_its_file_was_stored_takes_the_file_away(
        self, client, lead, coalition, settings, monkeypatch
    ):
        from coalitions import services

        def broken(*args, **kwargs):
            raise RuntimeError("the log refused")

        monkeypatch.setattr(services.activity, "log", broken)
        with pytest.raises(RuntimeError):
            self.post(login(client, lead), coalition)
        assert not Output.objects.exists()
        assert not [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]

    def test_the_same_upload_goes_through_once_the_disk_has_room(
        self, client, lead, coalition, monkeypatch
    ):
        from django.core.files.storage import FileSystemStorage

        save = FileSystemStorage._save

        def full(storage, name, content):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(FileSystemStorage, "_save", full)
        assert self.post(login(client, lead), coalition).status_code == 503
        monkeypatch.setattr(FileSystemStorage, "_save", save)
        assert self.post(client, coalition).status_code == 302
        output = Output.objects.get()
        assert output.title == self.TYPED["title"]
        assert output.file.read() == PDF
