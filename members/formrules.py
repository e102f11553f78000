"""Input rules every form shares, so bad input gets a clear message beside the field instead
of a database error or a page that breaks later."""

from django import forms
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _sensible_year(value) -> None:
    if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise forms.ValidationError(
            _("Give a date between %(first)s and %(last)s."),
            params={"first": EARLIEST_YEAR, "last": LATEST_YEAR},
            code="year_out_of_range",
        )


class SensibleInputMixin:
    """Every date and time between 2000 and 2100 (a session in the year 1 broke every page that
    showed it); every capacity or maximum named in `AT_LEAST_ONE` at least 1."""

    AT_LEAST_ONE: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.DateField | forms.DateTimeField):
                field.validators.append(_sensible_year)
        for name in self.AT_LEAST_ONE:
            if name in self.fields:
                self.fields[name].validators.append(
                    MinValueValidator(1, _("At least 1; leave it empty for no maximum."))
                )
                self.fields[name].widget.attrs.setdefault("min", 1)
