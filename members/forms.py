import re

from django import forms
from django.contrib.auth import password_validation
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .adapter import institution_for_email
from .addresses import AddressError, normalise_domain, normalise_email
from .formrules import SensibleInputMixin
from .limits import SHORT
from .models import EmailDomain, Institution, Invitation, Person, User


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
        # Kept until the address is verified: only then does the account get its Person.
        user.signup_name = {
            "first_name": self.cleaned_data["first_name"],
            "infix": self.cleaned_data["infix"],
            "last_name": self.cleaned_data["last_name"],
        }
        user.save(update_fields=["signup_name"])


@transaction.atomic
def link_person_on_verification(user, *, institution: Institution | None = None) -> Person | None:
    """Once the account's address is verified: link it to the account-less Person with that
    address, or register a Person at the institution of the address's domain (or the one given:
    the institution an institution's login named, members.institution_login). Never before:
    an unverified sign-up must not claim someone else's entry. Open invitation links of that
    person stop working (they have an account now)."""
    if Person.objects.filter(user=user).exists():
        return None
    # Exactly the normalised address (members.addresses): never a case-insensitive match, in
    # which a dotless ı or a long s equals an i or an s.
    person = Person.objects.select_for_update().filter(email=user.email).first()
    if person is not None:
        if person.user_id is not None:
            return None
        person.user = user
        person.save(update_fields=["user"])
    else:
        institution = institution or institution_for_email(user.email)
        if institution is None:
            return None
        names = user.signup_name or {}
        person = Person.objects.create(
            user=user,
            email=user.email,
            first_name=names.get("first_name", ""),
            infix=names.get("infix", ""),
            last_name=names.get("last_name", "") or user.email.split("@")[0],
            institution=institution,
        )
    Invitation.objects.open().filter(person=person).update(revoked_at=timezone.now())
    if user.signup_name:
        user.signup_name = {}
        user.save(update_fields=["signup_name"])
    return person


DOMAIN_RE = re.compile(r"^(?=.{3,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def parse_domains(text: str) -> list[str]:
    """The domains of a text, each in the normalised form (members.addresses); one IDNA cannot
    encode is kept as typed, so the form names it as not valid."""
    domains = set()
    for part in re.split(r"[\s,;]+", text.strip()):
        if part.strip("@."):
            try:
                domains.add(normalise_domain(part))
            except AddressError:
                domains.add(part)
    return sorted(domains)


class InstitutionForm(SensibleInputMixin, forms.ModelForm):
    domains = forms.CharField(
        label=_("E-mail domains"),
        required=False,
        max_length=SHORT,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Separate with commas, for example: deltion.nl, deltion.example. "
            "Accounts with these addresses are linked to this institution."
        ),
    )

    class Meta:
        model = Institution
        fields = [
            "name",
            "short_name",
            "city",
            "kind",
            "brin",
            "website",
            "member_since",
            "member_until",
            "notes",
        ]
        widgets = {
            "member_since": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "member_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "domains" not in self.initial:
            self.initial["domains"] = ", ".join(d.domain for d in self.instance.email_domains.all())

    def clean_brin(self) -> str:
        brin = self.cleaned_data["brin"].strip().upper()
        if brin and Institution.objects.filter(brin=brin).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another institution already has this BRIN code."))
        return brin

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Institution.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("An institution with this name already exists."))
        return name

    def clean_domains(self) -> list[str]:
        domains = parse_domains(self.cleaned_data["domains"])
        bad = [d for d in domains if not DOMAIN_RE.match(d)]
        if bad:
            raise forms.ValidationError(
                _("Not a valid e-mail domain: %(domains)s"), params={"domains": ", ".join(bad)}
            )
        taken = list(
            EmailDomain.objects.filter(domain__in=domains)
            .exclude(institution_id=self.instance.pk)
            .select_related("institution")
        )
        if taken:
            raise forms.ValidationError(
                _("This domain belongs to another institution: %(domains)s"),
                params={"domains": ", ".join(f"{d.domain} ({d.institution})" for d in taken)},
            )
        return domains

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("member_since"), cleaned.get("member_until")
        if since and until and until < since:
            self.add_error("member_until", _("The end of membership cannot be before its start."))
        return cleaned

    @transaction.atomic
    def save(self, commit: bool = True) -> Institution:
        institution = super().save(commit=True)
        domains = self.cleaned_data["domains"]
        institution.email_domains.exclude(domain__in=domains).delete()
        existing = set(institution.email_domains.values_list("domain", flat=True))
        EmailDomain.objects.bulk_create(
            [EmailDomain(institution=institution, domain=d) for d in domains if d not in existing]
        )
        return institution

    @property
    def domains_changed(self) -> bool:
        return "domains" in self.changed_data and parse_domains(
            self.initial.get("domains", "")
        ) != self.cleaned_data.get("domains")


class RetentionForm(forms.Form):
    school_years = forms.IntegerField(
        label=_("Keep personal data for (school years)"),
        min_value=1,
        max_value=20,
        help_text=_(
            "Counted from the school year of someone's last membership, registration or login."
        ),
    )


class PostponeForm(SensibleInputMixin, forms.Form):
    until = forms.DateField(label=_("Keep until"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def clean_until(self):
        until = self.cleaned_data["until"]
        if until <= timezone.localdate():
            raise forms.ValidationError(_("Choose a date in the future."))
        return until


class EndMembershipForm(SensibleInputMixin, forms.Form):
    member_until = forms.DateField(
        label=_("Member until"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )


class PersonForm(SensibleInputMixin, forms.ModelForm):
    class Meta:
        model = Person
        fields = [
            "first_name",
            "infix",
            "last_name",
            "email",
            "institution",
            "function",
            "is_bureau_staff",
            "is_ambassador",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = Institution.objects.order_by("name")

    def clean_email(self) -> str:
        try:
            email = normalise_email(self.cleaned_data["email"])
        except AddressError as error:
            raise forms.ValidationError(_("Enter a valid e-mail address.")) from error
        if Person.objects.filter(email=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                _("Someone is already registered with this e-mail address.")
            )
        return email

    def clean(self):
        cleaned = super().clean()
        institution = cleaned.get("institution")
        if (
            cleaned.get("is_bureau_staff")
            and institution
            and institution.kind != Institution.Kind.BUREAU
        ):
            self.add_error("is_bureau_staff", _("Bureau staff belong to the network office."))
        return cleaned


class InvitationForm(SensibleInputMixin, forms.Form):
    message = forms.CharField(
        label=_("Personal message (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )


class AcceptInvitationForm(forms.Form):
    password1 = forms.CharField(
        label=_("Choose a password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Repeat the password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, person: Person, **kwargs):
        super().__init__(*args, **kwargs)
        self.person = person

    def clean_password1(self) -> str:
        password = self.cleaned_data["password1"]
        # Validate against the person's own details too (a password like their name is refused).
        password_validation.validate_password(password, User(email=self.person.email))
        return password

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return cleaned


class MyDetailsForm(forms.ModelForm):
    language = forms.ChoiceField(
        label=_("Language"), choices=[("nl", "Nederlands"), ("en", "English")]
    )

    class Meta:
        model = Person
        fields = ["first_name", "infix", "last_name", "function"]


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my name, e-mail address and account are removed for good."),
        required=True,
    )
    password = forms.CharField(
        label=_("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That is not your password."))
        return password


class MailPreferencesForm(forms.Form):
    """Which optional messages a person gets (members.notify.KINDS); the ones they cannot do
    without are listed on the page, not in the form."""

    def __init__(self, *args, current: dict[str, bool], person=None, **kwargs):
        from . import notify

        super().__init__(*args, **kwargs)
        for kind in notify.optional_kinds(person):
            self.fields[kind.name] = forms.BooleanField(
                label=kind.label,
                help_text=kind.help,
                required=False,
                initial=current.get(kind.name, kind.default),
            )


class OutboxFilterForm(forms.Form):
    """The bureau's outbox: by status, kind and recipient."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    q = forms.CharField(label=_("Recipient"), required=False, max_length=100)

    def __init__(self, *args, **kwargs):
        from . import notify
        from .models import Notification

        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All")), *Notification.Status.choices]
        self.fields["kind"].choices = [
            ("", _("All")),
            *sorted(((k.name, str(k.label)) for k in notify.KINDS.values()), key=lambda c: c[1]),
        ]
