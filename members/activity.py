"""The activity log's one door: `log(verb, by=..., target=...)`, called by every service that
changes something on someone's behalf (the pretix `log_action` habit).

Each app names its verbs once, with the sentence that shows them (`register_verbs` at import of
its services module), so the log speaks Dutch or English at display time and members never
imports the apps that use it. Details are stored as data, never as a sentence, and never hold a
person's name: names come from Person, so erasure reaches the log too."""

import re

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.functional import Promise

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
    **data,
) -> Action:
    """Record that `by` did `verb` to `target` (about `person`, inside `scope`), and move the
    versions of `target` and `scope` on: every change passes here, in its transaction."""
    if verb not in _VERBS:
        raise ValueError(f"Unknown activity verb {verb!r}: register it with register_verbs().")
    for changed in {target, scope} - {None}:
        _move_version(changed)
    return Action.objects.create(
        actor=by,
        verb=verb,
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=target.pk,
        person=person,
        scope=scope_of(scope) if scope is not None else "",
        data={key: str(value) for key, value in data.items()},
    )


class _Blank(dict):
    def __missing__(self, key):
        return ""


def describe(action: Action) -> str:
    """The action as a short sentence in the active language ("moved from X to Y")."""
    spec = _VERBS.get(action.verb)
    if spec is None:
        return action.verb
    sentence, enums = spec
    values = _Blank(action.data)
    for key, enum in enums.items():
        if values.get(key) in enum.values:
            values[key] = str(enum(values[key]).label).lower()
    try:
        return str(sentence) % values
    except (TypeError, ValueError):
        return str(sentence)
