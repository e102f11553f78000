"""An index in the Dutch order people are listed in (members.models.dutch): the people list, the
check-in search and the import walk it with a LIMIT instead of sorting every match. PostgreSQL
only (ICU's "nl-x-icu"); SQLite, the small local default, sorts in memory."""

from django.db import migrations

INDEX = "person_dutch_order"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {INDEX} ON members_person '
            '((last_name COLLATE "nl-x-icu"), (first_name COLLATE "nl-x-icu"), id)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("members", "0009_person_overview_seen")]

    operations = [migrations.RunPython(create, drop)]
