"""allauth's forms where ours differ (kept apart from members.forms, which allauth's own forms
import for the sign-up's extra fields)."""

from allauth.account import forms as allauth_forms
from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm as MFAAuthenticateForm
from django import forms

from . import login_delay
from .addresses import normalise_email


class ResetPasswordForm(allauth_forms.ResetPasswordForm):
    """allauth's reset form mails the address as typed; ours mails the normalised one (the
    account's own), never a look-alike that happens to find the account."""

    def clean_email(self) -> str:
        super().clean_email()  # finds the account by the normalised address (our adapter)
        return normalise_email(self.cleaned_data["email"])


class AuthenticateForm(MFAAuthenticateForm):
    """The code step of the login, with the same growing delay per account as the password
    step (members.login_delay) instead of allauth's five-minute lock-out."""

    def clean_code(self) -> str:
        request, account = context.request, self.user.email
        try:
            login_delay.check(request, "code", account)
        except login_delay.TooSoon as error:
            raise forms.ValidationError(error.message, code="too_soon") from error
        try:
            code = super().clean_code()
        except forms.ValidationError:
            login_delay.failed(request, "code", account)
            raise
        login_delay.succeeded(request, "code", account)
        return code
