"""The activity log's one door: `log(verb, by=..., target=...)`, called by every service that
changes something on someone's behalf (the pretix `log_action` habit).

Each app names its verbs once, with the sentence that shows them (`register_verbs` at import of
its services module), so the log speaks Dutch or English at display time and members never
imports the apps that use it. Details are stored as data, never as a sentence, and never hold a
person's name: names come from Person, so erasure reaches the log too."""

import datetime as dt
import re

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from .models import Action, Person

# verb → (sentence, {data key: the choices enum whose label shows that value})
_VERBS: dict[str, tuple[Promise, dict]] = {}


def register_verbs(verbs: dict[str, Promise | tuple[Promise, dict]]) -> None:
    """verb → a lazy translated sentence with %(name)s placeholders filled from the action's
    data; or (sentence, {key: Choices}) when a value is a stored choice shown by its label."""
    for verb, spec in verbs.items():
        _VERBS[verb] = spec if isinstance(spec, tuple) else (spec, {})


_DETAILS = re.compile(r"\s*\(%\([a-z_]+\)s\)")
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")


def verb_choices() -> list[tuple[str, str]]:
    """For a filter: every verb with its sentence, a detail in brackets left out and every
    other value an ellipsis ("verplaatst van … naar …"), in the order of the sentences."""
    return sorted(
        (
            (verb, _PLACEHOLDER.sub("…", _DETAILS.sub("", str(sentence))))
            for verb, (sentence, _enums) in _VERBS.items()
        ),
        key=lambda choice: choice[1].casefold(),
    )


def scope_of(obj: models.Model) -> str:
    return f"{obj._meta.label_lower}:{obj.pk}"


def _move_version(obj: models.Model) -> None:
    """The version of a changed object moves on in the change's own transaction: a rollback
    takes it back with the change, and a page rendered before the commit was cached under the
    old version, which nobody asks for after it (kwaliteitsnetwerk.caching)."""
    model = type(obj)
    if any(field.name == "version" for field in model._meta.concrete_fields):
        model._base_manager.filter(pk=obj.pk).update(version=models.F("version") + 1)


def log(
    verb: str,
    *,
    by: Person | None,
    target: models.Model,
    person: Person | None = None,
    scope: models.Model | None = None,
    changes: dict[str, tuple[str, str]] | None = None,
    **data,
) -> Action:
    """Record that `by` did `verb` to `target` (about `person`, inside `scope`), and move the
    versions of `target` and `scope` on: every change passes here, in its transaction.
    `changes`: {field name: (old, new)} of the target's fields that changed, as `values` wrote
    them (the zulip OLD_VALUE/NEW_VALUE habit); shown with the fields' labels in the reader's
    language wherever the sentence has %(fields)s."""
    if verb not in _VERBS:
        raise ValueError(f"Unknown activity verb {verb!r}: register it with register_verbs().")
    for changed in {target, scope}:
        if changed is not None:
            _move_version(changed)
    stored: dict = {key: str(value) for key, value in data.items()}
    if changes:
        stored["changes"] = {name: [old, new] for name, (old, new) in changes.items()}
    return Action.objects.create(
        actor=by,
        verb=verb,
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=target.pk,
        person=person,
        scope=scope_of(scope) if scope is not None else "",
        data=stored,
    )


SHOWN_LENGTH = 60  # a long text's old and new value are shown cut to this many characters


def values(obj: models.Model, names) -> dict[str, str]:
    """The fields `names` of `obj` as the log keeps them: a choice as its stored value (shown
    by its label), a moment in local time, a related object by its name, a text cut short;
    never a person's name (erasure would not reach it): a field pointing at a person is kept
    as changed, without its values."""
    kept = {}
    for name in names:
        field = obj._meta.get_field(name)
        if field.is_relation:
            if field.related_model is Person or field.many_to_many:
                kept[name] = ""
                continue
            value = getattr(obj, name)
            kept[name] = "" if value is None else str(value)[:SHOWN_LENGTH]
            continue
        value = getattr(obj, getattr(field, "attname", name))
        if value is None or value == "":
            kept[name] = ""
        elif isinstance(value, bool):
            kept[name] = "1" if value else "0"
        elif isinstance(value, dt.datetime):
            kept[name] = timezone.localtime(value).strftime("%d-%m-%Y %H.%M")
        elif isinstance(value, dt.date):
            kept[name] = value.strftime("%d-%m-%Y")
        else:
            text = " ".join(str(value).split())
            kept[name] = text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 1] + "…"
    return kept


def changes_between(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{name: (old, new)} for every field of `after`, from two `values` of one object."""
    return {name: (before.get(name, ""), new) for name, new in after.items()}


class _Blank(dict):
    def __missing__(self, key):
        return ""


def _shown_value(field, value: str) -> str:
    if field.choices and value:
        return str(dict(field.flatchoices).get(_typed(field, value), value))
    if getattr(field, "get_internal_type", lambda: "")() == "BooleanField":
        return str(_("yes") if value == "1" else _("no"))
    return value or "–"


def _typed(field, value: str):
    try:
        return field.to_python(value)
    except Exception:  # noqa: BLE001 - a stored value the field no longer reads stays as text
        return value


def _changed_fields(action: Action) -> str:
    """The fields of a change in the reader's language, each with its old and new value
    where they were kept: "capaciteit: 30 → 40, begin: 10-12-2026 10.00 → 10-12-2026 11.00"."""
    model = ContentType.objects.get_for_id(action.target_type_id).model_class()
    if model is None:  # a model that no longer exists: the fields by their names
        return ", ".join(action.data["changes"])
    shown = []
    for name, (old, new) in action.data["changes"].items():
        try:
            field = model._meta.get_field(name)
        except Exception:  # noqa: BLE001 - a field that no longer exists is shown by its name
            shown.append(name)
            continue
        label = str(getattr(field, "verbose_name", name))
        if field.is_relation and (field.related_model is Person or field.many_to_many):
            shown.append(label)
        else:
            shown.append(f"{label}: {_shown_value(field, old)} → {_shown_value(field, new)}")
    return ", ".join(shown)


def describe(action: Action) -> str:
    """The action as a short sentence in the active language ("moved from X to Y")."""
    spec = _VERBS.get(action.verb)
    if spec is None:
        return action.verb
    sentence, enums = spec
    values = _Blank({k: v for k, v in action.data.items() if k != "changes"})
    for key, enum in enums.items():
        if values.get(key) in enum.values:
            values[key] = str(enum(values[key]).label).lower()
    if isinstance(action.data.get("changes"), dict):
        values["fields"] = _changed_fields(action)
    try:
        return str(sentence) % values
    except (TypeError, ValueError):
        return str(sentence)
