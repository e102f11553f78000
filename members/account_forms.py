"""allauth's forms where ours differ (kept apart from members.forms, which allauth's own forms
import for the sign-up's extra fields)."""

from allauth.account import forms as allauth_forms

from .addresses import normalise_email


class ResetPasswordForm(allauth_forms.ResetPasswordForm):
    """allauth's reset form mails the address as typed; ours mails the normalised one (the
    account's own), never a look-alike that happens to find the account."""

    def clean_email(self) -> str:
        super().clean_email()  # finds the account by the normalised address (our adapter)
        return normalise_email(self.cleaned_data["email"])
