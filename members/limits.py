"""How much text a person may type into a field (issue 24: comments, input and proposals took
2 MB each, shown to every member and mailed in full to the leads).

Names and titles: NAME characters (CharField max_length); short texts (remarks, motivations,
messages, comments, proposals): SHORT; long texts (an assignment, a ring's agreements, an
evaluation, a description of a session, input): LONG. Every such TextField carries its limit as
max_length (the forms take it from there: the maxlength attribute, the hint, the message beside
the field) and as a CheckConstraint in the database (`length_checks`)."""

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

NAME = 200
SHORT = 2000
LONG = 10000


def length_checks(prefix: str, **limits: int) -> list[models.CheckConstraint]:
    """One named check per field: `<prefix>_<field>_length`."""
    return [
        models.CheckConstraint(
            condition=LessThanOrEqual(Length(field), limit), name=f"{prefix}_{field}_length"
        )
        for field, limit in limits.items()
    ]
