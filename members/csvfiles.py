"""CSV files people open in Excel: semicolons, a byte-order mark, and formula-like cells guarded.

One guard for every export (people, institutions, registrations, presence lists), and its
inverse for the import, so an export can be imported again unchanged."""

import csv

from django.http import StreamingHttpResponse

# Excel runs a cell starting with one of these as a formula; a leading quote keeps it text.
FORMULA_STARTS = frozenset("=+-@")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def unguard_cell(text: str) -> str:
    """Take our guard off again when a file we exported is imported."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_STARTS else text


class _Echo:
    def write(self, value):
        return value


def csv_response(filename: str, rows) -> StreamingHttpResponse:
    """Stream rows (the first one the header) as a download."""
    writer = csv.writer(_Echo(), delimiter=";")

    def lines():
        yield "\ufeff"  # a byte-order mark makes Excel read the file as UTF-8
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
