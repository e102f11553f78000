from django import forms
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from .adapter import institution_for_email
from .models import Person


class SignupExtraForm(forms.Form):
    """Extra fields on allauth's sign-up form: who you are in the network."""

    first_name = forms.CharField(label=_("First name"), max_length=100)
    infix = forms.CharField(
        label=_("Infix"),
        max_length=30,
        required=False,
        help_text=_("For example: van, de, van der"),
    )
    last_name = forms.CharField(label=_("Last name"), max_length=150)

    def signup(self, request, user) -> None:
        link_person_to_new_user(
            user,
            first_name=self.cleaned_data["first_name"],
            infix=self.cleaned_data["infix"],
            last_name=self.cleaned_data["last_name"],
        )


@transaction.atomic
def link_person_to_new_user(user, *, first_name: str, infix: str, last_name: str) -> Person:
    """Link a new account to the Person with its address, or register that Person at the
    institution of the address's domain."""
    person = Person.objects.select_for_update().filter(email__iexact=user.email).first()
    if person is not None:
        if person.user_id is None:
            person.user = user
            person.save(update_fields=["user"])
        return person
    institution = institution_for_email(user.email)
    return Person.objects.create(
        user=user,
        email=user.email,
        first_name=first_name,
        infix=infix,
        last_name=last_name,
        institution=institution,
    )
