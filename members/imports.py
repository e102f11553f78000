"""CSV import and export of institutions and people (bureau staff).

Files may be UTF-8 (with or without BOM) or what Dutch Excel saves: semicolon-separated,
often in Windows-1252. Every row is validated with the same forms the pages use; an import
applies all rows or none, and re-importing the same file changes nothing (rows are matched on
BRIN code or name for institutions, on e-mail address for people).
"""

import csv
import io
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from .addresses import normalised_or_none
from .csvfiles import unguard_cell
from .forms import InstitutionForm, PersonForm
from .models import Institution, Person

MAX_BYTES = 2 * 1024 * 1024

INSTITUTION_COLUMNS = [
    "naam",
    "korte_naam",
    "plaats",
    "type",
    "brin",
    "website",
    "domeinen",
    "lid_sinds",
    "lid_tot",
    "opmerkingen",
]
PERSON_COLUMNS = [
    "voornaam",
    "tussenvoegsel",
    "achternaam",
    "email",
    "instelling",
    "functie",
    "bureaumedewerker",
    "ambassadeur",
]
REQUIRED = {"institutions": {"naam"}, "people": {"voornaam", "achternaam", "email", "instelling"}}
COLUMNS = {"institutions": INSTITUTION_COLUMNS, "people": PERSON_COLUMNS}


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, missing columns, too big)."""


@dataclass
class RowResult:
    number: int
    values: dict
    errors: list[str] = field(default_factory=list)
    action: str = ""  # "new", "update" or "unchanged"
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, from, to)


def decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise ImportFileError(_("The file is larger than 2 MB."))
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise ImportFileError(_("The file contains a NUL character: is it really a CSV file?"))
        return text
    raise ImportFileError(_("The file is neither UTF-8 nor Windows-1252 text."))


def read_rows(raw: bytes, kind: str) -> list[dict]:
    text = decode(raw)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames:
        raise ImportFileError(_("The file is empty."))
    headers = [h.strip().lower() for h in reader.fieldnames]
    missing = REQUIRED[kind] - set(headers)
    if missing:
        raise ImportFileError(
            _("Missing columns: %(missing)s. Expected: %(expected)s.")
            % {"missing": ", ".join(sorted(missing)), "expected": "; ".join(COLUMNS[kind])}
        )
    rows = []
    try:
        for raw_row in reader:
            row = {(k or "").strip().lower(): _cell(v) for k, v in raw_row.items() if k is not None}
            if any(row.values()):
                # A column missing from the file is None: the field keeps its value.
                rows.append(
                    {col: row.get(col, "") if col in headers else None for col in COLUMNS[kind]}
                )
    except csv.Error as error:
        raise ImportFileError(
            _("Row %(row)s cannot be read (%(error)s).") % {"row": reader.line_num, "error": error}
        ) from error
    if not rows:
        raise ImportFileError(_("The file has no rows below the header."))
    return rows


def _cell(value) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    return unguard_cell(text)


YES = {"1", "ja", "j", "yes", "y", "true", "waar", "x"}
NO = {"", "0", "nee", "n", "no", "false", "onwaar"}
YES_NO_COLUMNS = ("bureaumedewerker", "ambassadeur")


def _yes(value: str) -> bool:
    return value.strip().lower() in YES


def _kind_value(value: str) -> str:
    value = value.strip().lower()
    for code, label in Institution.Kind.choices:
        if value in {code, str(label).lower()}:
            return code
    return value or Institution.Kind.OTHER


def _form_errors(form) -> list[str]:
    errors = []
    for name, messages in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        errors.extend(f"{label}: {m}" if label else m for m in messages)
    return errors


def _given(values: dict, column: str, current):
    """The file's value, or — when the file has no such column — the value as it is now."""
    value = values.get(column)
    return current if value is None else value


def _institution_form(values: dict):
    brin = (values.get("brin") or "").upper()
    instance = None
    if brin:
        instance = Institution.objects.filter(brin=brin).first()
    if instance is None:
        instance = Institution.objects.filter(name__iexact=values["naam"]).first()
    now = instance or Institution()
    domains = (
        ", ".join(d.domain for d in instance.email_domains.all()) if instance is not None else ""
    )
    data = {
        "name": values["naam"],
        "short_name": _given(values, "korte_naam", now.short_name),
        "city": _given(values, "plaats", now.city),
        "kind": _kind_value(values["type"]) if values.get("type") is not None else now.kind,
        "brin": brin if values.get("brin") is not None else now.brin,
        "website": _given(values, "website", now.website),
        "domains": _given(values, "domeinen", domains),
        "member_since": _given(
            values, "lid_sinds", now.member_since.isoformat() if now.member_since else ""
        ),
        "member_until": _given(
            values, "lid_tot", now.member_until.isoformat() if now.member_until else ""
        ),
        "notes": _given(values, "opmerkingen", now.notes),
    }
    return InstitutionForm(data=data, instance=instance)


def _find_institution(value: str) -> Institution | None:
    value = value.strip()
    if not value:
        return None
    return (
        Institution.objects.filter(brin=value.upper()).first()
        or Institution.objects.filter(name__iexact=value).first()
        or Institution.objects.filter(short_name__iexact=value).first()
    )


def _person_form(values: dict):
    email = normalised_or_none(values["email"]) if values["email"] else None
    instance = Person.objects.filter(email=email).first() if email else None
    institution = _find_institution(values["instelling"])
    now = instance or Person()

    def flag(column: str, current: bool) -> bool:
        return current if values.get(column) is None else _yes(values[column])

    data = {
        "first_name": values["voornaam"],
        "infix": _given(values, "tussenvoegsel", now.infix),
        "last_name": values["achternaam"],
        "email": values["email"],
        "institution": institution.pk if institution else "",
        "function": _given(values, "functie", now.function),
        "is_bureau_staff": flag("bureaumedewerker", now.is_bureau_staff),
        "is_ambassador": flag("ambassadeur", now.is_ambassador),
        "notes": now.notes,
    }
    form = PersonForm(data=data, instance=instance)
    if institution is None and values["instelling"]:
        form.institution_missing = values["instelling"]
    return form


def _changes(form) -> list[tuple[str, str, str]]:
    """Per field that an import changes: (label, what it is now, what it becomes)."""
    if form.instance.pk is None:
        return []
    changes = []
    for name in form.changed_data:
        if name == "domains":
            continue
        old = form.initial.get(name)
        new = form.cleaned_data.get(name)
        if name == "institution":
            old, new = form.instance.institution, new
        changes.append((str(form.fields[name].label), _shown(old), _shown(new)))
    if isinstance(form, InstitutionForm) and form.domains_changed:
        changes.append(
            (
                str(form.fields["domains"].label),
                ", ".join(d.domain for d in form.instance.email_domains.all()),
                _shown(form.cleaned_data.get("domains")),
            )
        )
    return changes


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return str(value)


def _changed(form) -> bool:
    return form.instance.pk is None or bool(_changes(form))


def check_rows(rows: list[dict], kind: str) -> tuple[list[RowResult], list]:
    """Validate every row; returns the results and the forms (valid ones are ready to save)."""
    make_form = _institution_form if kind == "institutions" else _person_form
    key = "naam" if kind == "institutions" else "email"
    seen: dict[str, int] = {}
    results, forms = [], []
    for number, values in enumerate(rows, start=2):  # row 1 is the header
        form = make_form(values)
        result = RowResult(number=number, values=values)
        if not form.is_valid():
            result.errors = _form_errors(form)
        if getattr(form, "institution_missing", None):
            # Filled in but not found: say that, not that the field is empty.
            result.errors = [
                e for e in result.errors if not e.startswith(str(form.fields["institution"].label))
            ]
            result.errors.append(
                _("Unknown institution: %(name)s. Use its name, short name or BRIN code.")
                % {"name": form.institution_missing}
            )
        for column in YES_NO_COLUMNS:
            value = values.get(column)
            if value is not None and value.strip().lower() not in YES | NO:
                result.errors.append(
                    _("%(column)s: “%(value)s” is not a yes or no; write ja or nee.")
                    % {"column": column, "value": value}
                )
        ident = values[key].strip().lower()
        if ident in seen:
            result.errors.append(_("Same as row %(row)s.") % {"row": seen[ident]})
        seen.setdefault(ident, number)
        if not result.errors:
            result.changes = _changes(form)
            result.action = (
                "unchanged" if not _changed(form) else ("update" if form.instance.pk else "new")
            )
        results.append(result)
        forms.append(form)
    return results, forms


@transaction.atomic
def apply_rows(rows: list[dict], kind: str, *, by=None) -> dict[str, int]:
    """Import all rows or none, each through the same door as the pages (so it is logged).
    Raises ImportFileError when any row is invalid now."""
    from .services import save_institution, save_person

    results, forms = check_rows(rows, kind)
    if any(r.errors for r in results):
        raise ImportFileError(_("The file has rows with problems; nothing was imported."))
    counts = {"new": 0, "update": 0, "unchanged": 0}
    for result, form in zip(results, forms, strict=True):
        counts[result.action] += 1
        if result.action != "unchanged":
            (save_institution if kind == "institutions" else save_person)(form, by=by)
    return counts


def export_rows(kind: str):
    """Rows for the CSV export, in the import's columns (so an export can be imported again)."""
    if kind == "institutions":
        yield INSTITUTION_COLUMNS
        for i in Institution.objects.prefetch_related("email_domains").order_by("name"):
            yield [
                i.name,
                i.short_name,
                i.city,
                i.kind,
                i.brin,
                i.website,
                ", ".join(d.domain for d in i.email_domains.all()),
                i.member_since.isoformat() if i.member_since else "",
                i.member_until.isoformat() if i.member_until else "",
                i.notes,
            ]
    else:
        yield PERSON_COLUMNS
        for p in (
            Person.objects.filter(erased_at__isnull=True)
            .select_related("institution")
            .dutch_order()
        ):
            yield [
                p.first_name,
                p.infix,
                p.last_name,
                p.email,
                p.institution.brin or p.institution.name,
                p.function,
                "ja" if p.is_bureau_staff else "nee",
                "ja" if p.is_ambassador else "nee",
            ]
