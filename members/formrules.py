"""Input rules every form shares, so bad input gets a clear message beside the field instead
of a database error or a page that breaks later."""

from django import forms
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _sensible_year(value) -> None:
    if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise forms.ValidationError(
            _("Give a date between %(first)s and %(last)s."),
            params={"first": EARLIEST_YEAR, "last": LATEST_YEAR},
            code="year_out_of_range",
        )


def show_limits(form: forms.BaseForm) -> None:
    """Every text a person types shows its limit before it is reached (members.limits): the
    maxlength attribute (Django sets it from max_length) and, for a text area, a hint in its help
    text ("Maximaal 2000 tekens"), which the field is described by. Past the limit the message
    beside the field says how long it is."""
    for field in form.fields.values():
        if not isinstance(field, forms.CharField) or not field.max_length:
            continue
        for validator in field.validators:
            if isinstance(validator, MaxLengthValidator):
                validator.message = _TOO_LONG
        if isinstance(field.widget, forms.Textarea):
            hint = _("At most %(limit)s characters.") % {"limit": field.max_length}
            field.help_text = f"{field.help_text} {hint}" if field.help_text else hint


_TOO_LONG = _("This is too long: at most %(limit_value)d characters, and this is %(show_value)d.")


class SensibleInputMixin:
    """Every date and time between 2000 and 2100 (a session in the year 1 broke every page that
    showed it); every capacity or maximum named in `AT_LEAST_ONE` at least 1; every text with its
    limit shown (show_limits)."""

    AT_LEAST_ONE: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        show_limits(self)
        for field in self.fields.values():
            if isinstance(field, forms.DateField | forms.DateTimeField):
                field.validators.append(_sensible_year)
        for name in self.AT_LEAST_ONE:
            if name in self.fields:
                self.fields[name].validators.append(
                    MinValueValidator(1, _("At least 1; leave it empty for no maximum."))
                )
                self.fields[name].widget.attrs.setdefault("min", 1)
