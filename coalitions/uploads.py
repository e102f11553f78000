"""Uploaded output files: the checks (size, and type by content, never by name or browser claim)
and storing one together with its row."""

import contextlib
import logging
import zipfile
import zlib

from django import forms
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
# An archive is judged by its table of contents and the first bytes of one member: never
# unpacked, so a small file that unpacks to gigabytes costs nothing.
MAX_ARCHIVE_MEMBERS = 10_000
MIMETYPE_BYTES = 100

# extension -> what the content must be
ALLOWED = {
    "pdf": "pdf",
    "png": "png",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "docx": "ooxml",
    "xlsx": "ooxml",
    "pptx": "ooxml",
    "odt": "odf",
    "ods": "odf",
    "odp": "odf",
    "txt": "text",
    "csv": "text",
    "md": "text",
}


def sniff(head: bytes, upload) -> str | None:
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        upload.seek(0)
        try:
            with zipfile.ZipFile(upload) as archive:
                names = archive.namelist()
                if len(names) > MAX_ARCHIVE_MEMBERS:
                    return None
                if "[Content_Types].xml" in names:
                    return "ooxml"
                if "mimetype" in names:
                    if archive.getinfo("mimetype").flag_bits & 0x1:
                        return None  # encrypted: not an office document we can check
                    with archive.open("mimetype") as member:
                        if member.read(MIMETYPE_BYTES).startswith(
                            b"application/vnd.oasis.opendocument"
                        ):
                            return "odf"
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            NotImplementedError,
            EOFError,
            RuntimeError,
            OSError,
            zlib.error,
        ):
            return None
        return None
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError:
            # A multi-byte character may be cut at the end of the sample.
            try:
                head[:-3].decode("utf-8")
                return "text"
            except UnicodeDecodeError:
                return None
    return None


def validate_output_file(upload) -> None:
    if upload.size > MAX_BYTES:
        raise forms.ValidationError(_("The file is larger than 20 MB."))
    extension = upload.name.rsplit(".", 1)[-1].lower() if "." in upload.name else ""
    expected = ALLOWED.get(extension)
    if expected is None:
        raise forms.ValidationError(
            _("This type of file is not allowed. Allowed: %(types)s.")
            % {"types": ", ".join(sorted(ALLOWED))}
        )
    upload.seek(0)
    head = upload.read(8192)
    found = sniff(head, upload)
    upload.seek(0)
    if found != expected:
        raise forms.ValidationError(
            _("The content of the file does not match its name (.%(ext)s).") % {"ext": extension}
        )


class FileNotStored(Exception):
    """The storage refused the file (a full or read-only disk): nothing was saved."""

    def __str__(self) -> str:
        return _(
            "The file could not be stored (the storage is full or cannot be written). "
            "Nothing was saved, and what you typed is still here: choose the file again, "
            "or try again later."
        )


@contextlib.contextmanager
def stored_with_row(file: FieldFile):
    """The transaction that saves a row with a new upload (the file is written as the row is
    saved, by the field's pre_save): the row and its file are one. A storage that refuses the
    file (OSError: ENOSPC, EROFS, …) saves no row and raises FileNotStored; whatever fails after
    the file was written rolls the row back and takes the file away again, so no row points at
    a missing file and no file is left without its row."""
    new = bool(file) and not getattr(file, "_committed", True)
    try:
        with transaction.atomic():
            yield
    except BaseException as exc:
        stored = new and getattr(file, "_committed", False)
        if stored and file.name:  # written before the failure: it goes with the row
            with contextlib.suppress(OSError):
                file.storage.delete(file.name)
        if new and not stored and isinstance(exc, OSError):  # the storage refused it
            logger.error("Upload not stored (%s: %s); nothing saved", type(exc).__name__, exc)
            raise FileNotStored() from exc
        raise
