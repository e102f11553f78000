"""Model fields that hold an address or a domain in the one normalised form (members.addresses).

Every save stores the normalised value and every exact lookup compares with it, also the
lookups allauth makes on the account's address: no door can forget the rule."""

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .addresses import AddressError, normalise_domain, normalise_email


class NormalisedEmailField(models.EmailField):
    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        try:
            return normalise_email(value)
        except AddressError as error:
            raise ValidationError(EmailValidator.message, code="invalid") from error

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if isinstance(value, str) and value:
            try:
                return normalise_email(value)
            except AddressError:
                return value  # no address: matches nothing we stored
        return value


class NormalisedDomainField(models.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        try:
            return normalise_domain(value)
        except AddressError as error:
            raise ValidationError(_("Not a valid e-mail domain."), code="invalid") from error

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if isinstance(value, str) and value:
            try:
                return normalise_domain(value)
            except AddressError:
                return value
        return value
