from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from coalitions.models import Coalition, Ring
from members.addresses import normalised_or_none
from members.formrules import SensibleInputMixin
from members.models import Institution

from .models import Session, SessionPart
from .services import time_slots

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class SessionForm(SensibleInputMixin, forms.ModelForm):
    AT_LEAST_ONE = ("capacity",)

    class Meta:
        model = Session
        fields = [
            "title",
            "kind",
            "organiser_coalition",
            "description",
            "start",
            "end",
            "form",
            "host_institution",
            "address",
            "room",
            "online_link",
            "capacity",
            "signup_deadline",
            "reminder_days",
        ]
        widgets = {
            "start": DATETIME,
            "end": DATETIME,
            "signup_deadline": DATETIME,
            "description": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, lead_coalitions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["host_institution"].queryset = Institution.objects.exclude(
            kind=Institution.Kind.BUREAU
        ).order_by("name")
        if lead_coalitions is not None:
            # A lead makes meetings of their own coalition only.
            self.fields["kind"].choices = [(Session.Kind.COALITION, Session.Kind.COALITION.label)]
            self.fields["organiser_coalition"].queryset = lead_coalitions
            self.fields["organiser_coalition"].required = True
        else:
            self.fields["organiser_coalition"].queryset = Coalition.objects.running().order_by(
                "name"
            )

    def clean(self):
        cleaned = super().clean()
        start, end, deadline = (
            cleaned.get("start"),
            cleaned.get("end"),
            cleaned.get("signup_deadline"),
        )
        if start and end and end <= start:
            self.add_error("end", _("The end is before the start: choose an end after the start."))
        if deadline and start and deadline > start:
            self.add_error(
                "signup_deadline",
                _("The sign-up deadline is after the start: choose a moment before the session."),
            )
        if cleaned.get("kind") == Session.Kind.COALITION and not cleaned.get("organiser_coalition"):
            self.add_error("organiser_coalition", _("A coalition meeting belongs to a coalition."))
        if cleaned.get("form") in (Session.Form.ONLINE, Session.Form.HYBRID) and not cleaned.get(
            "online_link"
        ):
            self.add_error("online_link", _("An online or hybrid session needs a link."))
        return cleaned


class PartForm(SensibleInputMixin, forms.ModelForm):
    AT_LEAST_ONE = ("capacity",)

    class Meta:
        model = SessionPart
        fields = [
            "kind",
            "title",
            "description",
            "start",
            "end",
            "room",
            "capacity",
            "coalition",
            "invited_rings",
        ]
        widgets = {
            "start": DATETIME,
            "end": DATETIME,
            "description": forms.Textarea(attrs={"rows": 3}),
            "invited_rings": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, session: Session, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.fields["coalition"].queryset = session.coalitions.order_by("name")
        self.fields["invited_rings"].queryset = Ring.objects.filter(
            coalition__in=session.coalitions.all()
        ).select_related("coalition")
        self.fields["invited_rings"].label_from_instance = lambda ring: (
            f"{ring.coalition.name}: {ring.name}"
        )
        if not self.instance.pk:
            self.initial.setdefault("start", session.start)
            self.initial.setdefault("end", session.end)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end <= start:
                self.add_error(
                    "end", _("The end is before the start: choose an end after the start.")
                )
            elif start < self.session.start or end > self.session.end:
                self.add_error(
                    "start",
                    _(
                        "This part falls outside the session (%(start)s–%(end)s): choose a time within it."
                    )
                    % {
                        "start": timezone.localtime(self.session.start).strftime("%H.%M"),
                        "end": timezone.localtime(self.session.end).strftime("%H.%M"),
                    },
                )
        kind, coalition = cleaned.get("kind"), cleaned.get("coalition")
        if kind == SessionPart.Kind.WORK and not coalition:
            self.add_error("coalition", _("Work within a coalition needs the coalition."))
        if kind != SessionPart.Kind.WORK:
            cleaned["coalition"] = None
            cleaned["invited_rings"] = Ring.objects.none()
        elif coalition:
            foreign = [
                r for r in cleaned.get("invited_rings", []) if r.coalition_id != coalition.pk
            ]
            if foreign:
                self.add_error("invited_rings", _("Invite rings of this part's own coalition."))
        return cleaned

    def save(self, commit: bool = True):
        self.instance.session = self.session
        return super().save(commit)


class LeadPartForm(SensibleInputMixin, forms.ModelForm):
    """What a lead of a coalition taking part decides about their coalition's own work part:
    which rings are invited this time (the core only, or the flexible ring too), how many
    places, and what the part is about."""

    AT_LEAST_ONE = ("capacity",)

    class Meta:
        model = SessionPart
        fields = ["invited_rings", "capacity", "description"]
        widgets = {
            "invited_rings": forms.CheckboxSelectMultiple,
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, session: Session, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.fields["invited_rings"].queryset = self.instance.coalition.rings.order_by("order")
        self.fields["invited_rings"].label_from_instance = lambda ring: ring.name


class CoalitionsForm(forms.Form):
    coalitions = forms.ModelMultipleChoiceField(
        label=_("Coalitions taking part"),
        queryset=Coalition.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args, session: Session, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coalitions"].queryset = (
            Coalition.objects.running()
            .exclude(pk__in=session.coalitions.values("pk"))
            .order_by("name")
        )


class SignupForm(SensibleInputMixin, forms.Form):
    """One choice per time slot (where parts run at the same time), plus remarks."""

    remarks = forms.CharField(
        label=_("Remarks (diet, accessibility)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, parts, **kwargs):
        super().__init__(*args, **kwargs)
        self.slots = []
        for index, slot in enumerate(time_slots(parts)):
            name = f"slot_{index}"
            if len(slot) == 1:
                part = slot[0]
                self.fields[name] = forms.BooleanField(
                    label=part.title, required=False, initial=True
                )
            else:
                self.fields[name] = forms.TypedChoiceField(
                    label=_("Choose one part (%(start)s–%(end)s)")
                    % {
                        "start": timezone.localtime(slot[0].start).strftime("%H.%M"),
                        "end": timezone.localtime(max(p.end for p in slot)).strftime("%H.%M"),
                    },
                    choices=[("", _("None of these"))] + [(str(p.pk), p.title) for p in slot],
                    widget=forms.RadioSelect,
                    required=False,
                    coerce=int,
                    empty_value=None,
                )
            self.slots.append((name, slot))
        self.order_fields([name for name, _slot in self.slots] + ["remarks"])

    def chosen_parts(self) -> list[SessionPart]:
        chosen = []
        for name, slot in self.slots:
            value = self.cleaned_data.get(name)
            if len(slot) == 1:
                if value:
                    chosen.append(slot[0])
            elif value:
                chosen.extend(p for p in slot if p.pk == value)
        return chosen


class GuestForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(label=_("E-mail address"))
    institution = forms.ModelChoiceField(
        label=_("Institution"),
        queryset=Institution.objects.none(),
        required=False,
        empty_label=_("None (a guest or an external person)"),
    )

    def __init__(self, *args, choose_institution: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not choose_institution:
            # A lead adds a guest among the guests; registering people of member institutions
            # is the bureau's.
            del self.fields["institution"]
            return
        self.fields["institution"].queryset = Institution.objects.exclude(
            kind__in=[Institution.Kind.BUREAU, Institution.Kind.EXTERNAL]
        ).order_by("name")


class PersonByEmailForm(forms.Form):
    """Someone to sign up, found by address among the people the caller may act for
    (Session.people_to_act_for): an unknown address and someone else's get the same answer, so
    the form tells nobody whether an address belongs to anyone."""

    email = forms.EmailField(label=_("E-mail address"))

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = people

    def clean_email(self):
        email = normalised_or_none(self.cleaned_data["email"])
        person = self.people.filter(email=email).select_related("institution").first()
        if person is None:
            raise forms.ValidationError(
                _("Nobody you can sign up for this session has this e-mail address.")
            )
        self.person = person
        return email
