"""What a refusal must leave behind: nothing. `nothing_changes()` compares every row of our apps
(the accounts included) before and after a block, so a test of a 403 or a refused service call
also proves that no registration, membership, outbox message or log entry slipped through."""

from contextlib import contextmanager

from django.apps import apps
from django.db import connection

APPS = ("members", "coalitions", "events")


def _tables() -> list[str]:
    return [
        model._meta.db_table
        for label in APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]


def snapshot() -> dict[str, str]:
    """Each table's rows, as a fingerprint: on PostgreSQL one query for all of them."""
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        sql = " UNION ALL ".join(
            f"SELECT '{table}', count(*)::text || ':' || "
            f"md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {quote(table)} t"
            for table in _tables()
        )
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return dict(cursor.fetchall())
    with connection.cursor() as cursor:
        rows = {}
        for table in _tables():
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 - our own table names
            rows[table] = repr(sorted(map(repr, cursor.fetchall())))
        return rows


def changes(before: dict, after: dict) -> list[str]:
    """The tables whose rows differ."""
    return sorted(table for table in before if before[table] != after[table])


@contextmanager
def nothing_changes():
    before = snapshot()
    yield
    changed = changes(before, snapshot())
    assert not changed, f"a refusal changed rows of {', '.join(changed)}"
