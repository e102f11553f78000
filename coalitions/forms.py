import re

from django import forms
from django.utils.translation import gettext_lazy as _

from members.formrules import SensibleInputMixin
from members.limits import SHORT
from members.models import Person

from .models import (
    Coalition,
    Evaluation,
    Input,
    Output,
    Proposal,
    ProposalComment,
    Ring,
    RingMembership,
    Theme,
    ThemeRound,
)
from .uploads import validate_output_file

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
SCHOOL_YEAR = re.compile(r"(\d{4})-(\d{4})")


def clean_school_year(value: str) -> str:
    value = value.strip()
    match = SCHOOL_YEAR.fullmatch(value)
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
        raise forms.ValidationError(_("Write the school year as 2026-2027."))
    return value


class PeopleByEmailField(forms.CharField):
    """People named by their e-mail addresses (comma or line separated); all must be registered."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        kwargs.setdefault("max_length", SHORT)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(p.email if isinstance(p, Person) else str(p) for p in value)
        return value

    def clean(self, value):
        value = super().clean(value)
        emails = [e.lower() for e in re.split(r"[\s,;]+", value or "") if e]
        people = {
            p.email.lower(): p
            for p in Person.objects.filter(email__in=emails, erased_at__isnull=True)
        }
        unknown = [e for e in emails if e not in people]
        if unknown:
            raise forms.ValidationError(
                _("Nobody is registered with: %(emails)s. Ask the bureau to add them first."),
                params={"emails": ", ".join(unknown)},
            )
        return [people[e] for e in dict.fromkeys(emails)]


class CoalitionForm(SensibleInputMixin, forms.ModelForm):
    """Everything about a coalition, for bureau staff."""

    leads = PeopleByEmailField(label=_("Leads (e-mail addresses)"), required=False)
    new_theme = forms.CharField(
        label=_("Or a new theme"),
        help_text=_("Not in the list yet: name it here and it is added to the themes."),
        required=False,
        max_length=100,
    )

    class Meta:
        model = Coalition
        fields = [
            "name",
            "theme",
            "new_theme",
            "school_year",
            "assignment",
            "goal",
            "intended_output",
            "needs",
            "start",
            "planned_end",
            "extension_reason",
            "bureau_contact",
            "continues",
        ]
        widgets = {"start": DATE, "planned_end": DATE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["theme"].required = False  # or a new one (clean_new_theme)
        self.fields["bureau_contact"].queryset = Person.objects.filter(
            is_bureau_staff=True, erased_at__isnull=True
        ).dutch_order()
        earlier = Coalition.objects.select_related("theme").order_by("-school_year", "name")
        if self.instance.pk:
            # Not itself, nor a coalition that (through others) continues this one.
            later = {self.instance.pk}
            frontier = {self.instance.pk}
            while frontier:
                frontier = set(
                    Coalition.objects.filter(continues__in=frontier)
                    .exclude(pk__in=later)
                    .values_list("pk", flat=True)
                )
                later |= frontier
            earlier = earlier.exclude(pk__in=later)
        self.fields["continues"].queryset = earlier
        if self.instance.pk and "leads" not in self.initial:
            self.initial["leads"] = list(self.instance.leads.all())

    def clean_school_year(self) -> str:
        return clean_school_year(self.cleaned_data["school_year"])

    def clean_new_theme(self) -> str:
        """A new theme without leaving the form; a name already in the list is that theme."""
        name = " ".join(self.cleaned_data.get("new_theme", "").split())
        theme = self.cleaned_data.get("theme")
        if name and theme is not None and theme.name.lower() != name.lower():
            raise forms.ValidationError(_("Choose a theme from the list or name a new one."))
        existing = Theme.objects.filter(name__iexact=name).first() if name else None
        if existing is not None:
            self.cleaned_data["theme"] = existing
            return ""
        if not name and theme is None:
            self.add_error("theme", _("Choose a theme, or name a new one below."))
        return name

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("planned_end")
        if start and end:
            if end <= start:
                self.add_error(
                    "planned_end", _("The planned end is before the start: choose a later date.")
                )
            elif (
                Coalition.term_too_long(start, end)
                and not cleaned.get("extension_reason", "").strip()
            ):
                self.add_error(
                    "extension_reason",
                    _("A coalition runs at most one school year. Give a reason to extend it."),
                )
        if (
            self.instance.status == Coalition.Status.ACTIVE
            and "leads" in cleaned
            and not cleaned["leads"]
        ):
            self.add_error("leads", _("An active coalition needs at least one lead."))
        return cleaned


class CoalitionContentForm(SensibleInputMixin, forms.ModelForm):
    """What a lead may change: the content, not the dates, status or leads."""

    class Meta:
        model = Coalition
        fields = ["theme", "assignment", "goal", "intended_output", "needs"]


class RingForm(SensibleInputMixin, forms.ModelForm):
    AT_LEAST_ONE = ("capacity",)

    class Meta:
        model = Ring
        fields = [
            "name",
            "order",
            "level",
            "join_policy",
            "capacity",
            "minimum_size",
            "sessions_expected",
            "can_see_workspace",
            "can_post_input",
            "can_post_outputs",
            "agreements_process",
            "agreements_behaviour",
        ]
        widgets = {
            "agreements_process": forms.Textarea(attrs={"rows": 3}),
            "agreements_behaviour": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, coalition: Coalition, **kwargs):
        super().__init__(*args, **kwargs)
        self.coalition = coalition

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self.coalition.rings.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("This coalition already has a ring with this name."))
        return name

    def clean_order(self) -> int:
        order = self.cleaned_data["order"]
        if self.coalition.rings.filter(order=order).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another ring already has this place in the order."))
        return order

    def clean(self):
        cleaned = super().clean()
        capacity, minimum = cleaned.get("capacity"), cleaned.get("minimum_size")
        if capacity is not None and capacity < 1:
            self.add_error("capacity", _("A maximum is at least 1; leave it empty for no maximum."))
        if capacity and minimum and minimum > capacity:
            self.add_error("minimum_size", _("The minimum cannot be larger than the maximum."))
        if capacity and self.instance.pk:
            active = self.instance.member_count
            if capacity < active:
                self.add_error(
                    "capacity",
                    _(
                        "The ring has %(count)s members now; move or end members before lowering the maximum."
                    )
                    % {"count": active},
                )
        return cleaned

    def save(self, commit: bool = True) -> Ring:
        self.instance.coalition = self.coalition
        return super().save(commit)


class JoinForm(SensibleInputMixin, forms.Form):
    motivation = forms.CharField(
        label=_("Why do you want to join? (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DecisionForm(SensibleInputMixin, forms.Form):
    message = forms.CharField(
        label=_("Message (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MoveForm(forms.Form):
    ring = forms.ModelChoiceField(
        label=_("Move to"), queryset=Ring.objects.none(), empty_label=None
    )

    def __init__(self, *args, membership: RingMembership, rings=None, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = Ring.objects.filter(coalition_id=membership.coalition_id).exclude(
            pk=membership.ring_id
        )
        self.fields["ring"].queryset = queryset
        if rings is not None:
            # Reuse the rings already loaded for the board: no query per person.
            self.fields["ring"].choices = [
                (r.pk, r.name) for r in rings if r.pk != membership.ring_id
            ]


class InviteToRingForm(SensibleInputMixin, forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    first_name = forms.CharField(
        label=_("First name"),
        required=False,
        max_length=100,
        help_text=_("Only needed for someone not yet registered."),
    )
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=150)
    ring = forms.ModelChoiceField(label=_("Ring"), queryset=Ring.objects.none(), empty_label=None)

    def __init__(self, *args, coalition: Coalition, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ring"].queryset = coalition.rings.all()
        self.fields["ring"].label_from_instance = lambda ring: ring.name


class InputForm(SensibleInputMixin, forms.ModelForm):
    class Meta:
        model = Input
        fields = ["kind", "title", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}


class InputReplyForm(SensibleInputMixin, forms.ModelForm):
    class Meta:
        model = Input
        fields = ["status", "reply"]
        widgets = {"reply": forms.Textarea(attrs={"rows": 2})}


class OutputForm(SensibleInputMixin, forms.ModelForm):
    class Meta:
        model = Output
        fields = ["title", "kind", "description", "url", "file", "visibility", "ring"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, coalition: Coalition, **kwargs):
        super().__init__(*args, **kwargs)
        self.coalition = coalition
        self.fields["ring"].queryset = coalition.rings.all()
        self.fields["ring"].label_from_instance = lambda ring: ring.name

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and hasattr(upload, "size") and not getattr(upload, "_committed", False):
            validate_output_file(upload)
        return upload

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("url") and not cleaned.get("file") and "file" not in self.errors:
            self.add_error("url", _("Give a link or upload a file."))
        if cleaned.get("visibility") == Output.Visibility.RING and not cleaned.get("ring"):
            self.add_error("ring", _("Choose the ring that may see this output."))
        if cleaned.get("visibility") != Output.Visibility.RING:
            cleaned["ring"] = None
        return cleaned

    def save(self, commit: bool = True) -> Output:
        self.instance.coalition = self.coalition
        return super().save(commit)


class ThemeRoundForm(SensibleInputMixin, forms.ModelForm):
    class Meta:
        model = ThemeRound
        fields = ["school_year", "opens_at", "closes_at", "votes_per_person", "introduction"]
        widgets = {
            "opens_at": DATETIME,
            "closes_at": DATETIME,
            "introduction": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_school_year(self) -> str:
        value = clean_school_year(self.cleaned_data["school_year"])
        others = ThemeRound.objects.filter(school_year=value).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(
                _("There is already a theme round for %(year)s."), params={"year": value}
            )
        return value

    def clean_votes_per_person(self):
        votes = self.cleaned_data["votes_per_person"]
        if votes is not None and votes < 1:
            raise forms.ValidationError(_("At least 1."))
        return votes

    def clean(self):
        cleaned = super().clean()
        opens, closes = cleaned.get("opens_at"), cleaned.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error(
                "closes_at", _("The round closes after it opens: choose a later moment.")
            )
        return cleaned


class ProposalForm(SensibleInputMixin, forms.ModelForm):
    class Meta:
        model = Proposal
        fields = ["title", "question", "why_now", "desired_output"]
        widgets = {
            "question": forms.Textarea(attrs={"rows": 3}),
            "why_now": forms.Textarea(attrs={"rows": 3}),
            "desired_output": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "question": _("The question your institution wants answered together."),
            "desired_output": _("A product or instrument your institution would use."),
        }


class CommentForm(SensibleInputMixin, forms.ModelForm):
    class Meta:
        model = ProposalComment
        fields = ["body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 2})}
        labels = {"body": _("Your comment")}


class DeclineForm(SensibleInputMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why this theme is not chosen (the proposer reads it)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CandidateJoinForm(SensibleInputMixin, forms.Form):
    """Signing up for a ring during recruitment: the Kern asks a motivation."""

    motivation = forms.CharField(
        label=_("Your motivation"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What you bring and what you want to take back to your institution."),
    )


class EvaluationForm(SensibleInputMixin, forms.ModelForm):
    class Meta:
        model = Evaluation
        fields = ["delivered", "dilemmas", "good_practices", "advice"]
        widgets = {
            name: forms.Textarea(attrs={"rows": 4})
            for name in ("delivered", "dilemmas", "good_practices", "advice")
        }
