"""Migration steps the apps share."""

from django.db import migrations
from django.db.models.functions import Length


def refuse_longer_texts(app_label: str, limits: dict[str, dict[str, int]]) -> migrations.RunPython:
    """Before new length limits become checks: if a saved text is already longer, stop the
    migration with a list of the rows (nothing is changed or cut off), so whoever runs it
    shortens them by hand first and no saved word is lost without someone deciding it."""

    def check(apps, schema_editor):
        found = []
        for model_name, fields in limits.items():
            model = apps.get_model(app_label, model_name)
            for field, limit in fields.items():
                rows = (
                    model._default_manager.annotate(n=Length(field))
                    .filter(n__gt=limit)
                    .values_list("pk", "n")
                )
                found += [
                    f"{app_label}.{model_name} {pk}: {field} has {n} characters (at most {limit})"
                    for pk, n in rows
                ]
        if found:
            raise RuntimeError(
                "Saved texts are longer than the new limits (members/limits.py); nothing has "
                "been changed. Shorten these first, then migrate again:\n" + "\n".join(found)
            )

    return migrations.RunPython(check, migrations.RunPython.noop, elidable=True)
