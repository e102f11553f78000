from collections import defaultdict
from typing import NamedTuple

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Prefetch, Q, prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from coalitions.models import Coalition
from kwaliteitsnetwerk import caching
from kwaliteitsnetwerk.caching import versions_of
from members import services as member_services
from members.access import is_bureau, person_of
from members.csvfiles import csv_response
from members.models import Action, Institution, Person, count_of
from members.rows import url_pattern

from . import services
from .access import (
    get_part_for_user,
    get_person_to_act_for,
    get_registration_for_user,
    get_session_for_user,
)
from .calendar import feed_ics, session_ics
from .forms import (
    CoalitionsForm,
    GuestForm,
    LeadPartForm,
    PartForm,
    PersonByEmailForm,
    SessionForm,
    SignupForm,
)
from .models import CalendarFeed, PartChoice, Registration, Session, new_feed_token

PAGE_SIZE = 20
REGISTRATIONS_PAGE = 25
CHECKIN_ROWS = 30
CHECKIN_MATCHES = 10


def _registration_of(person, session):
    if person is None:
        return None
    return (
        session.registrations.active()
        .filter(person=person)
        .prefetch_related("choices__part")
        .first()
    )


# Lists and the session page ---------------------------------------------------------------------


@login_required
def session_list(request):
    person = person_of(request)
    when = request.GET.get("when", "upcoming")
    kind = request.GET.get("kind", "")
    sessions = Session.objects.visible_to(person).select_related("host_institution")
    sessions = sessions.past() if when == "past" else sessions.upcoming()
    if kind in Session.Kind.values:
        sessions = sessions.filter(kind=kind)
    if request.GET.get("mine") == "1":
        sessions = sessions.filter(
            pk__in=Registration.objects.active().filter(person=person).values("session")
        )
    sessions = sessions.with_places()
    page = Paginator(sessions, PAGE_SIZE).get_page(request.GET.get("page"))
    mine = (
        {
            r.session_id: r
            for r in Registration.objects.active().filter(
                person=person, session__in=[s.pk for s in page]
            )
        }
        if person
        else {}
    )
    # "You are invited": the coming published sessions the rule invites them to.
    invited = services.coming_invited_ids(person)
    for session in page:
        session.my_registration = mine.get(session.pk)
        session.invited = session.pk in invited
    context = {
        "page": page,
        "when": when,
        "kind": kind,
        "kinds": Session.Kind.choices,
        "mine": request.GET.get("mine") == "1",
        "may_create": is_bureau(request) or Coalition.objects.organising_for(person).exists(),
    }
    template = "events/session_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


def _places_and_opening(session: Session) -> tuple[dict, str | None]:
    """The places taken and waiting, and why sign-up is closed (None when open): what the
    session page and the HTMX answer of its sign-up section both show."""
    counts = session.registrations.aggregate(
        confirmed=Count("pk", filter=Q(status=Registration.Status.CONFIRMED)),
        waitlisted=Count("pk", filter=Q(status=Registration.Status.WAITLISTED)),
    )
    session.confirmed_count = counts["confirmed"]
    try:
        services.check_open_for_signup(session)
    except services.RegistrationError as error:
        return counts, str(error)
    return counts, None


def _standing(session: Session, person) -> dict:
    """What this person may do here, from the rules' own predicates (Session.invites,
    SessionPart.objects.open_to, is_editable_by, is_organised_by, SessionPart.is_steered_by):
    cached per person by the versions of the session, its coalitions and the person (their
    rights), as these nested queries are the costly part of the session page."""

    def compute() -> dict:
        editable = session.is_editable_by(person)
        steered = set()
        if not editable and person is not None:
            taking_part = {c.pk for c in session.coalitions.all()}
            steered = {
                part.pk
                for part in session.parts.filter(
                    coalition__in=Coalition.objects.led_by(person)
                ).select_related("coalition")
                if part.is_steered_by(person, taking_part=taking_part)
            }
        return {
            "editable": editable,
            "remarks": session.remarks_visible_to(person),
            "organises": editable or session.is_organised_by(person),
            "invited": session.invites(person),
            "open": sorted(session.parts.open_to(person).values_list("pk", flat=True)),
            "steered": sorted(steered),
        }

    return caching.cached_value(
        caching.key(
            "standing",
            session.versions,
            person.pk if person else "",
            person.version if person else "",
            person.has_bureau_rights if person else "",
        ),
        compute,
    )


def _programme(session: Session, steered: list[int]):
    """The programme's rows with their places (and which parts this lead steers)."""
    parts = list(
        session.parts.select_related("coalition")
        .prefetch_related("invited_rings")
        # In time order: Meta.ordering does not hold in a query with GROUP BY.
        .order_by("start", "end", "pk")
        .annotate(
            confirmed_count=Count(
                "choices", filter=Q(choices__status=Registration.Status.CONFIRMED)
            ),
            waitlist_count=Count(
                "choices", filter=Q(choices__status=Registration.Status.WAITLISTED)
            ),
        )
    )
    for part in parts:
        part.steered = part.pk in steered
    return parts


def _detail_context(request, session: Session) -> dict:
    person = person_of(request)
    standing = _standing(session, person)
    registration = _registration_of(person, session)
    invited = standing["invited"]
    counts, signup_error = _places_and_opening(session)
    signup_form = None
    if invited and not registration and not signup_error:
        signup_form = SimpleLazyObject(
            lambda: SignupForm(parts=list(session.parts.filter(pk__in=standing["open"])))
        )
    return {
        "session": session,
        # The programme and the empty sign-up form are cached by the session's versions and
        # what the rules answer for this person (the parts they steer, the parts open to them).
        "facts_key": caching.key("session-facts", session.versions),
        "programme_key": caching.key("programme", session.versions, standing["steered"]),
        "signup_key": caching.key("signup-form", session.versions, standing["open"]),
        "parts": SimpleLazyObject(lambda: _programme(session, standing["steered"])),
        "steered": standing["steered"],
        "registration": registration,
        "position": services.waitlist_position(registration) if registration else None,
        "invited": invited,
        "signup_form": signup_form,
        "signup_error": signup_error,
        "counts": counts,
        "poll_seconds": settings.PLACES_POLL_SECONDS,
        "is_full": session.is_full,
        "can_edit": standing["editable"],
        "can_organise": standing["organises"],
        "is_bureau": is_bureau(request),
    }


@login_required
def session_detail(request, pk: int):
    session = get_session_for_user(
        request,
        pk,
        queryset=Session.objects.select_related("host_institution", "organiser_coalition"),
    )
    return render(request, "events/session_detail.html", _detail_context(request, session))


def _part_counts(status: str):
    """The number of a part's choices with this status, as a subquery."""
    return count_of(PartChoice.objects.filter(part=OuterRef("pk"), status=status), "part")


@login_required
def places(request, pk: int):
    """The places taken and waiting of a session and its parts, polled by every open session
    page: the session with its counts and, only when these changed since the page's last look
    (`seen`), the parts with theirs: one or two queries whatever the number of sign-ups, so many
    people watching cost the sign-up rush next to nothing. A part whose count changes while the
    session's stays (a raised part capacity) shows at the next change or reload."""
    session = get_session_for_user(
        request,
        pk,
        queryset=Session.objects.with_places(),
    )
    if request.GET.get("seen") == f"{session.confirmed_count}-{session.waiting_count}":
        return HttpResponse(status=204)  # as the page shows it: nothing to swap, nothing said
    parts = session.parts.annotate(
        confirmed_count=_part_counts(Registration.Status.CONFIRMED),
        waitlist_count=_part_counts(Registration.Status.WAITLISTED),
    )
    return render(
        request,
        "events/session_detail.html#live_places",
        {
            "session": session,
            "counts": {"confirmed": session.confirmed_count, "waitlisted": session.waiting_count},
            "parts": parts,
        },
    )


def _signup_context(request, session: Session, registration=None, position=None) -> dict:
    """Only what the sign-up section (and the places count it updates) shows: the HTMX answer
    to a sign-up or a cancellation computes this, not the whole session page. `registration`:
    the one just made (with its `position` on the waiting list), else it is looked up."""
    person = person_of(request)
    if registration is None:
        registration = _registration_of(person, session)
        position = services.waitlist_position(registration) if registration else None
    else:
        prefetch_related_objects([registration], "choices__part")
    counts, signup_error = _places_and_opening(session)
    invited = registration is not None or session.invites(person)
    form = None
    if invited and not registration and not signup_error:
        form = SignupForm(parts=services.invited_parts(session, person))
    return {
        "session": session,
        "registration": registration,
        "position": position,
        "invited": invited,
        "signup_form": form,
        "signup_error": signup_error,
        "counts": counts,
        "poll_seconds": settings.PLACES_POLL_SECONDS,
        "is_full": session.is_full,
    }


def _signup_response(request, session, registration=None, position=None):
    if request.POST.get("from") == "overview":
        # Signed up or cancelled from the overview: its row changes in place.
        if not request.htmx:
            return redirect("home")
        rows = services.coming_sessions_for(person_of(request), pks=[session.pk])
        return render(
            request,
            "includes/overview_session.html",
            {"session": rows[0] if rows else session, "answered": True, "gone": not rows},
        )
    if request.htmx:
        return render(
            request,
            "events/session_detail.html#signup",
            _signup_context(request, session, registration, position),
        )
    return redirect("events:detail", session.pk)


@login_required
@require_POST
def signup(request, pk: int):
    session = get_session_for_user(request, pk)
    person = person_of(request)
    if person is None:
        raise PermissionDenied
    form = SignupForm(request.POST, parts=services.invited_parts(session, person))
    if not form.is_valid():
        messages.error(request, _("Check your choices."))
        return _signup_response(request, session)
    try:
        registration = services.register(
            person, session, parts=form.chosen_parts(), remarks=form.cleaned_data["remarks"]
        )
    except services.RegistrationError as error:
        messages.error(request, str(error))
        return _signup_response(request, session)
    position = services.waitlist_position(registration)
    waiting_for = _waitlisted_parts(registration)
    if registration.is_confirmed and waiting_for:
        messages.warning(
            request,
            _(
                "You are signed up; for %(parts)s you are on the waiting list. A confirmation is on its way to %(email)s."
            )
            % {"parts": waiting_for, "email": person.email},
        )
    elif registration.is_confirmed:
        messages.success(
            request,
            _("You are signed up. A confirmation is on its way to %(email)s.")
            % {"email": person.email},
        )
    else:
        messages.warning(
            request,
            _("The session is full: you are on the waiting list, place %(position)s.")
            % {"position": position},
        )
    return _signup_response(request, session, registration, position)


def _waitlisted_parts(registration: Registration) -> str:
    """The parts this (confirmed) place waits for, as text for the message; "" when none."""
    if not registration.is_confirmed:
        return ""
    titles = registration.choices.filter(status=Registration.Status.WAITLISTED).values_list(
        "part__title", flat=True
    )
    return ", ".join(titles.order_by("part__start", "part__pk"))


@login_required
def cancel_registration(request, pk: int):
    registration = get_registration_for_user(request, pk)
    person = person_of(request)
    own = person is not None and registration.person_id == person.pk
    session = registration.session
    # A place in a full session goes to the first person waiting: ask first.
    gives_up_scarce_place = registration.gives_up_scarce_place
    confirmed = request.method == "POST" and (
        request.POST.get("confirm") == "1" or not gives_up_scarce_place
    )
    if not confirmed:
        url = reverse("events:cancel_registration", args=[registration.pk])
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        if request.method == "POST" and not registration.is_cancelled:
            return redirect(url)
        return render(
            request,
            "confirm.html",
            {
                "title": _("Give up your place?")
                if own
                else _("Cancel the place of %(name)s?") % {"name": registration.person.full_name},
                "explanation": [
                    _(
                        "%(title)s is full. The place goes to the first person on the waiting list at once; it cannot be given back."
                    )
                    % {"title": session.title}
                    if gives_up_scarce_place
                    else _("The registration for %(title)s will be cancelled.")
                    % {"title": session.title}
                ],
                "action": url,
                "confirm_label": _("Yes, cancel the place"),
                "button_class": "button-danger",
                "back": reverse("events:detail", args=[session.pk]),
            },
        )
    try:
        services.cancel(registration, by=person)
    except services.RegistrationError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("You are no longer signed up.")
            if own
            else _("%(name)s is no longer signed up.") % {"name": registration.person.full_name},
        )
    if own:
        return _signup_response(request, registration.session)
    return redirect("events:registrations", registration.session_id)


# Organising ---------------------------------------------------------------------------------------


def _lead_coalitions(request):
    return Coalition.objects.organising_for(person_of(request)).order_by("name")


@login_required
def session_edit(request, pk: int | None = None):
    session = get_session_for_user(request, pk, edit=True) if pk else None
    person = person_of(request)
    bureau = is_bureau(request)
    lead_coalitions = None if bureau else _lead_coalitions(request)
    if not bureau and not lead_coalitions.exists():
        raise PermissionDenied
    initial = {}
    if session is None and request.GET.get("coalition", "").isdigit():
        initial = {
            "organiser_coalition": int(request.GET["coalition"]),
            "kind": Session.Kind.COALITION,
        }
    form = SessionForm(
        request.POST or None, instance=session, lead_coalitions=lead_coalitions, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        if session is None:
            session = services.create_session(by=person, **form.cleaned_data)
        else:
            services.change_session(session, by=person, **form.cleaned_data)
        messages.success(request, _("%(title)s is saved.") % {"title": session.title})
        return redirect("events:detail", session.pk)  # what was saved, with the programme link
    return render(request, "events/session_form.html", {"form": form, "session": session})


@login_required
def programme(request, pk: int):
    session = get_session_for_user(request, pk, edit=True)
    parts = session.parts.select_related("coalition").prefetch_related("invited_rings")
    # Which coalitions take part is the bureau's (programme_coalitions); the form only when
    # there is a running coalition left to add.
    form = CoalitionsForm(session=session) if is_bureau(request) else None
    context = {
        "session": session,
        "parts": parts,
        "coalitions_form": form if form and form.fields["coalitions"].queryset.exists() else None,
    }
    return render(request, "events/programme.html", context)


@login_required
@require_POST
def programme_coalitions(request, pk: int):
    """Which coalitions take part is the bureau's to decide (a lead would otherwise invite other
    coalitions' rings to their own meeting)."""
    session = get_session_for_user(request, pk, edit=True)
    if not is_bureau(request):
        raise PermissionDenied
    form = CoalitionsForm(request.POST, session=session)
    if form.is_valid() and form.cleaned_data["coalitions"]:
        created = services.add_coalitions(
            session, form.cleaned_data["coalitions"], by=person_of(request)
        )
        messages.success(
            request,
            _("%(count)s coalition parts added; each invites its core ring for now.")
            % {"count": len(created)},
        )
    return redirect("events:programme", session.pk)


@login_required
def part_edit(request, pk: int, part_pk: int | None = None):
    """The bureau (or the organising lead) edits every part; a lead of a coalition taking part
    edits their own coalition's work part: which rings are invited, its capacity and text."""
    if part_pk:
        part = get_part_for_user(request, pk, part_pk)
        session = part.session
    else:
        session, part = get_session_for_user(request, pk, edit=True), None
    person = person_of(request)
    full = session.is_editable_by(person)
    form_class = PartForm if full else LeadPartForm
    form = form_class(request.POST or None, instance=part, session=session)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        services.save_part(
            saved,
            by=person,
            invited_rings=form.cleaned_data.get("invited_rings"),
            fields=form.changed_data,
        )
        messages.success(request, _("The programme is saved."))
        return redirect("events:programme" if full else "events:detail", session.pk)
    return render(
        request,
        "events/part_form.html",
        {"form": form, "session": session, "part": part, "full": full},
    )


@login_required
def session_publish(request, pk: int):
    """Ask first, showing who is invited and the mail they get: invitations cannot be unsent."""
    session = get_session_for_user(request, pk, edit=True)
    if request.method != "POST" or request.POST.get("confirm") != "1":
        count = services.people_invited(session).count()
        waiting = services.people_invited(session, with_account=False).count()
        without_account = (
            [
                ngettext(
                    "%(count)s more person is invited but has no account yet, so gets no mail; invited to the network, they see the session once they log in.",
                    "%(count)s more people are invited but have no account yet, so get no mail; invited to the network, they see the session once they log in.",
                    waiting,
                )
                % {"count": waiting}
            ]
            if waiting
            else []
        )
        subject, body = services.invitation_preview(session, person_of(request))
        return render(
            request,
            "confirm.html",
            {
                "title": _("Publish %(title)s?") % {"title": session.title},
                "explanation": [
                    ngettext(
                        "The invitation goes out at once to %(count)s person.",
                        "The invitation goes out at once to %(count)s people.",
                        count,
                    )
                    % {"count": count},
                    *without_account,
                    _("Members see the session and can sign up. An invitation cannot be unsent."),
                ],
                "preview": {"subject": subject, "body": body},
                "action": reverse("events:publish", args=[session.pk]),
                "confirm_label": _("Yes, publish and send the invitations"),
                "back": reverse("events:detail", args=[session.pk]),
            },
        )
    try:
        services.publish(session, by=person_of(request))
    except services.RegistrationError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, _("The session is published and the invitations are on their way.")
        )
    return redirect("events:detail", session.pk)


@login_required
@require_POST
def session_cancel(request, pk: int):
    """Ask first, saying who is told: a cancellation mails everyone and cannot be undone."""
    session = get_session_for_user(request, pk, edit=True)
    if request.POST.get("confirm") != "1" and not session.is_cancelled:
        count = session.registrations.active().count()
        return render(
            request,
            "confirm.html",
            {
                "title": _("Cancel %(title)s?") % {"title": session.title},
                "explanation": [
                    ngettext(
                        "%(count)s person signed up or on the waiting list is told at once, with a cancelled calendar event.",
                        "%(count)s people signed up or on the waiting list are told at once, with a cancelled calendar event.",
                        count,
                    )
                    % {"count": count},
                    _("A cancelled session cannot be published again."),
                ],
                "action": reverse("events:cancel", args=[session.pk]),
                "confirm_label": _("Yes, cancel the session and tell everyone"),
                "button_class": "button-danger",
                "back": reverse("events:detail", args=[session.pk]),
            },
        )
    try:
        services.cancel_session(session, by=person_of(request))
    except services.RegistrationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The session is cancelled; everyone signed up is told."))
    return redirect("events:detail", session.pk)


@login_required
def registrations(request, pk: int):
    """Who signed up: for the bureau everyone, for a lead the people of their coalitions."""
    session = get_session_for_user(
        request, pk, organise=True, queryset=Session.objects.select_related("host_institution")
    )
    person = person_of(request)
    mine = session.registrations.manageable_by(person)
    show_remarks = _standing(session, person)["remarks"]
    if request.GET.get("format") == "csv":
        regs = (
            mine.active()
            .select_related("person__institution", "registered_by")
            .prefetch_related(_open_choices())
            .order_by("queued_at", "pk")
        )
        return _registrations_csv(session, list(regs), show_remarks=show_remarks)
    form = PersonByEmailForm(request.POST or None, people=session.people_to_act_for(person))
    if request.method == "POST" and form.is_valid():
        signed_up = form.person
        try:
            registration = services.register(
                signed_up,
                session,
                by=person,
                parts=services.default_parts(session, signed_up),
            )
        except services.RegistrationError as error:
            messages.error(request, str(error))
        else:
            name = signed_up.full_name
            waiting_for = _waitlisted_parts(registration)
            if not registration.is_confirmed:
                messages.warning(
                    request,
                    _("The session is full: %(name)s is on the waiting list, place %(position)s.")
                    % {"name": name, "position": services.waitlist_position(registration)},
                )
            elif waiting_for:
                messages.warning(
                    request,
                    _("%(name)s is signed up; for %(parts)s on the waiting list.")
                    % {"name": name, "parts": waiting_for},
                )
            else:
                messages.success(request, _("%(name)s is signed up.") % {"name": name})
        return redirect("events:registrations", session.pk)
    # The lists are cached by the versions of the session and its people, for this person
    # (what Registration.objects.manageable_by gives them) and these filters.
    context = {
        "session": session,
        "form": form,
        "sees_everyone": person is not None and person.has_bureau_rights,
        "show_remarks": show_remarks,
        "lists_key": _people_key(
            "registration-lists", session, person, show_remarks, request.GET.urlencode()
        ),
        **caching.lazily(
            lambda: _registration_lists(request, session, mine),
            (
                "page",
                "shown",
                "numbered",
                "cancelled_list",
                "shown_count",
                "confirmed_list_key",
                "waiting_list_key",
                "tabs",
                "query",
                "part",
                "parts",
            ),
        ),
    }
    return render(request, "events/registrations.html", context)


def _people_key(name: str, session: Session, person, *more) -> str:
    """The key of a list of the session's people as this person manages them: the versions of
    the session and its people, the person (Registration.objects.manageable_by answers for
    them) and their bureau rights, and what the list is filtered by."""
    return caching.key(
        name,
        session.versions,
        session.people_versions,
        person.pk if person else "",
        person.has_bureau_rights if person else "",
        *more,
    )


def _registration_lists(request, session: Session, mine) -> dict:
    # One list at a time (confirmed, waiting, cancelled), searched and paged on the server: a
    # big session has hundreds of people, and the organiser looks for one or goes down a list.
    # The list is named by its status (?lijst=bevestigd), the template gets booleans.
    Status = Registration.Status
    shown = request.GET.get("lijst", "")
    shown = Status(shown) if shown in Status.values else Status.CONFIRMED
    counts = mine.aggregate(
        **{status.value: Count("pk", filter=Q(status=status)) for status in Status}
    )
    parts = list(
        session.parts.select_related("coalition")
        .order_by("start", "end", "pk")  # Meta.ordering does not hold with GROUP BY
        .annotate(
            confirmed=Count(
                "choices",
                filter=Q(
                    choices__status=Registration.Status.CONFIRMED,
                    choices__registration__in=mine.active(),
                ),
            ),
            waiting=Count(
                "choices",
                filter=Q(
                    choices__status=Registration.Status.WAITLISTED,
                    choices__registration__in=mine.active(),
                ),
            ),
        )
        .order_by("start", "pk")
    )
    part = next((p for p in parts if str(p.pk) == request.GET.get("onderdeel")), None)
    query = request.GET.get("q", "").strip()[:100]
    regs = mine.filter(status=shown).select_related("person__institution", "registered_by")
    if shown == Status.WAITLISTED:
        regs = services.with_waitlist_positions(regs)
    if part is not None:
        # One condition on the same choice: who still chose this part (a choice given up in
        # another part must not hide them).
        regs = regs.filter(
            choices__part=part,
            choices__status__in=[Registration.Status.CONFIRMED, Registration.Status.WAITLISTED],
        )
    regs = _matching(regs, query)
    order = ("-cancelled_at", "-pk") if shown == Status.CANCELLED else ("queued_at", "pk")
    page = Paginator(
        regs.prefetch_related(_open_choices()).order_by(*order), REGISTRATIONS_PAGE
    ).get_page(request.GET.get("page"))
    history = defaultdict(list)
    for action in (
        Action.objects.filter(
            target_type__model="registration",
            target_type__app_label="events",
            target_id__in=[r.pk for r in page],
        )
        .select_related("actor")
        .order_by("at", "pk")
    ):
        history[action.target_id].append(action)
    for reg in page:
        reg.history = history.get(reg.pk, [])
    return {
        "page": page,
        "shown": shown.value,
        "numbered": shown == Status.WAITLISTED,
        "cancelled_list": shown == Status.CANCELLED,
        "shown_count": counts[shown.value],
        "confirmed_list_key": Status.CONFIRMED.value,
        "waiting_list_key": Status.WAITLISTED.value,
        "tabs": [
            (status.value, label, counts[status.value])
            for status, label in (
                (Status.CONFIRMED, _("Confirmed")),
                (Status.WAITLISTED, _("Waiting list")),
                (Status.CANCELLED, _("Cancelled")),
            )
        ],
        "query": query,
        "part": part,
        "parts": parts,
    }


def _matching(registrations, query: str):
    """The registrations whose person matches every word typed: name, e-mail or institution
    (the registrations page and the door list search the same way)."""
    for word in query.split():
        registrations = registrations.filter(
            Q(person__first_name__icontains=word)
            | Q(person__last_name__icontains=word)
            | Q(person__email__icontains=word)
            | Q(person__institution__name__icontains=word)
        )
    return registrations


def _open_choices():
    return Prefetch(
        "choices",
        queryset=PartChoice.objects.exclude(status=Registration.Status.CANCELLED).select_related(
            "part"
        ),
    )


def _registrations_csv(session, regs, *, show_remarks: bool):
    header = [
        _("Last name"),
        _("Infix"),
        _("First name"),
        _("Institution"),
        _("E-mail address"),
        _("Status"),
        _("Parts"),
        _("Remarks"),
        _("Signed up"),
    ]
    rows = (
        [
            r.person.last_name,
            r.person.infix,
            r.person.first_name,
            r.person.institution.name,
            r.person.email,
            r.get_status_display(),
            "; ".join(f"{c.part.title} ({c.get_status_display()})" for c in r.choices.all()),
            r.remarks if show_remarks else "",
            timezone.localtime(r.queued_at).strftime("%d-%m-%Y %H:%M"),
        ]
        for r in regs
    )
    return csv_response(f"aanmeldingen-{session.pk}.csv", [header, *rows])


# Attendance -------------------------------------------------------------------------------------


def _checkin_context(request, session: Session, query: str) -> dict:
    """One search at the door: the people signed up (whom this person manages) and, from two
    letters on, the people not signed up whom they may check in; with the present count."""
    person = person_of(request)
    choose = bool(person and person.has_bureau_rights)
    # The people signed up (what Registration.objects.manageable_by gives this person) are
    # cached by the versions of the session and its people, per search; the walk-ins are not.
    return {
        "session": session,
        "query": query,
        "door_key": _people_key("door-list", session, person, query),
        **caching.lazily(
            lambda: _door_list(session, person, query), ("registrations", "more", "counts")
        ),
        "walk_in_people": SimpleLazyObject(lambda: _walk_in_candidates(session, person, query)),
        "may_add_guests": SimpleLazyObject(lambda: session.is_editable_by(person)),
        # The empty guest form lists every institution for the bureau: cached by their versions.
        "guest_key": caching.key(
            "guest-form",
            versions_of(Institution.objects.all()) if choose else "",
            choose,
        ),
        "guest_form": SimpleLazyObject(lambda: GuestForm(choose_institution=choose)),
    }


class DoorRow(NamedTuple):
    """A person signed up, as the door list shows them."""

    pk: int
    name: str
    place: str  # their institution's short name
    waitlisted: bool
    attended: bool | None
    mark_url: str


class WalkInRow(NamedTuple):
    pk: int  # the person
    name: str
    place: str


def _door_list(session: Session, person, query: str) -> dict:
    """The people signed up whom this person manages, matching what was typed (the database
    searches, as on the registrations page), with the present count and the walk-ins."""
    mine = session.registrations.manageable_by(person).active()
    counts = mine.aggregate(present=Count("pk", filter=Q(attended=True)), total=Count("pk"))
    # Who types a name looks for one person: the ten best, not the thirty first. At the door
    # people type a name: the first rows in the alphabet, and a hint when more match (a big
    # session has hundreds; all of them at once was 290 KB per keystroke).
    limit = CHECKIN_MATCHES if query else CHECKIN_ROWS
    # One URL pattern for all rows: a reverse per row and per form was 40% of the answer.
    mark = url_pattern("events:mark")
    rows = [
        DoorRow(
            pk=registration.pk,
            name=registration.person.full_name,
            place=registration.person.institution.short_name
            or registration.person.institution.name,
            waitlisted=registration.is_waitlisted,
            attended=registration.attended,
            mark_url=mark.format(registration.pk),
        )
        for registration in _matching(mine, query)
        .select_related("person__institution")
        .only(*DOOR_ROW, "status", "attended")
        .order_by("person__last_name", "person__first_name", "pk")[: limit + 1]
    ]
    return {"registrations": rows[:limit], "more": len(rows) > limit, "counts": counts}


@login_required
def checkin(request, pk: int):
    session = get_session_for_user(request, pk, organise=True)
    # "wie" was the walk-in search's own field: one search field now does both.
    query = (request.GET.get("q") or request.GET.get("wie") or "").strip()
    context = _checkin_context(request, session, query)
    template = "events/checkin.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


# The fields a row of the door list shows (a person's name and institution).
DOOR_ROW = (
    "person__first_name",
    "person__infix",
    "person__last_name",
    "person__erased_at",
    "person__institution__name",
    "person__institution__short_name",
)


def _walk_in_candidates(session: Session, person: Person | None, query: str) -> list[WalkInRow]:
    """People not signed up, whom this person may check in, matching a name typed at the door
    (at most CHECKIN_MATCHES)."""
    if len(query) < 2:
        return []
    people = session.people_to_act_for(person).exclude(
        pk__in=session.registrations.active().values("person")
    )
    for word in query.split():
        people = people.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        )
    people = people.select_related("institution").only(
        *(field.removeprefix("person__") for field in DOOR_ROW)
    )
    return [
        WalkInRow(p.pk, p.full_name, p.institution.short_name or p.institution.name)
        for p in people.dutch_order()[:CHECKIN_MATCHES]
    ]


def _checkin_response(request, session: Session):
    """After a change at the door: the results and the present count for htmx, else the page."""
    query = request.POST.get("q", "").strip()
    if request.htmx:
        return render(
            request, "events/checkin.html#results", _checkin_context(request, session, query)
        )
    return redirect(reverse("events:checkin", args=[session.pk]) + f"?{urlencode({'q': query})}")


@login_required
@require_POST
def mark(request, pk: int):
    registration = get_registration_for_user(request, pk, own=False)
    attended = request.POST.get("attended") == "1"
    services.mark_attendance(registration, attended=attended, by=person_of(request))
    return _checkin_response(request, registration.session)


@login_required
@require_POST
def walk_in(request, pk: int):
    session = get_session_for_user(request, pk, organise=True)
    person_id = request.POST.get("person", "")
    person = get_person_to_act_for(
        request,
        session,
        get_object_or_404(
            Person, pk=int(person_id) if person_id.isdigit() else 0, erased_at__isnull=True
        ),
    )
    services.walk_in(session, person, by=person_of(request))
    if not request.htmx:  # htmx shows the row itself; a message would surface on a later page
        messages.success(request, _("%(name)s is marked present.") % {"name": person.full_name})
    return _checkin_response(request, session)


@login_required
@require_POST
def add_guest(request, pk: int):
    """Someone at the door who is not in the system: the bureau, or the lead of the organising
    coalition, registers them (with or without an institution) and marks them present."""
    session = get_session_for_user(request, pk, edit=True)
    form = GuestForm(request.POST, choose_institution=is_bureau(request))
    if not form.is_valid():
        context = _checkin_context(request, session, "")
        context |= {"guest_form": form, "guest_key": ""}  # what was typed: not cached
        return render(request, "events/checkin.html", context, status=400)
    try:
        guest = services.add_guest(session, by=person_of(request), **form.cleaned_data)
    except member_services.GuestError as error:
        form.add_error("email", str(error))
        context = _checkin_context(request, session, "")
        context |= {"guest_form": form, "guest_key": ""}  # what was typed: not cached
        return render(request, "events/checkin.html", context, status=400)
    messages.success(
        request, _("%(name)s is added and marked present.") % {"name": guest.full_name}
    )
    return redirect("events:checkin", session.pk)


@login_required
def presence_list(request, pk: int):
    session = get_session_for_user(
        request, pk, organise=True, queryset=Session.objects.select_related("host_institution")
    )
    regs = (
        session.registrations.manageable_by(person_of(request))
        .confirmed()
        .select_related("person__institution")
        .order_by("person__last_name", "person__first_name")
    )
    if request.GET.get("format") == "csv":
        header = [
            _("Last name"),
            _("Infix"),
            _("First name"),
            _("Institution"),
            _("Attendance"),
            _("Walk-in"),
        ]
        rows = (
            [
                r.person.last_name,
                r.person.infix,
                r.person.first_name,
                r.person.institution.name,
                {True: _("present"), False: _("absent")}.get(r.attended, ""),
                _("yes") if r.walk_in else "",
            ]
            for r in regs
        )
        return csv_response(f"presentielijst-{session.pk}.csv", [header, *rows])
    return render(request, "events/presence_list.html", {"session": session, "registrations": regs})


# Calendar -----------------------------------------------------------------------------------------


def _ics_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def session_calendar(request, pk: int):
    session = get_session_for_user(
        request, pk, queryset=Session.objects.select_related("host_institution")
    )
    registration = _registration_of(person_of(request), session)
    return _ics_response(session_ics(session, registration), f"bijeenkomst-{session.pk}.ics")


def personal_feed(request, token: str):
    """The secret feed: no login (calendar apps cannot log in), the token is the key."""
    feed = (
        CalendarFeed.objects.select_related("person")
        .filter(token=token, person__erased_at__isnull=True)
        .first()
    )
    if feed is None:
        raise Http404
    with translation.override(feed.person.language):
        content = feed_ics(feed.person)
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=900"
    return response


@login_required
@require_POST
def renew_feed(request):
    person = person_of(request)
    if person is None:
        raise Http404
    _feed, made = CalendarFeed.objects.update_or_create(
        person=person, defaults={"token": new_feed_token()}
    )
    if made:
        messages.success(request, _("Your calendar address is made; add it to your calendar app."))
    else:
        messages.success(
            request, _("Your calendar address is renewed; the old one no longer works.")
        )
    return redirect("members:my_account")


@login_required
def presentations(request, pk: int):
    """The organisers choose which coalitions' outputs are presented at this session: the
    library shows them as that year's harvest."""
    session = get_session_for_user(request, pk, edit=True)
    if not is_bureau(request) or not session.is_conference:
        # The network's harvest: chosen by the bureau, for a conference.
        raise PermissionDenied
    available = list(services.presentable_outputs(session))
    if request.method == "POST":
        chosen = {v for v in request.POST.getlist("outputs") if v.isdigit()}
        count = services.choose_presentations(
            session, [o for o in available if str(o.pk) in chosen], by=person_of(request)
        )
        messages.success(
            request,
            ngettext(
                "%(count)s output is presented at this session.",
                "%(count)s outputs are presented at this session.",
                count,
            )
            % {"count": count},
        )
        return redirect("events:detail", session.pk)
    shown = set(session.presentations.values_list("output_id", flat=True))
    return render(
        request,
        "events/presentations.html",
        {"session": session, "outputs": available, "shown": shown},
    )
