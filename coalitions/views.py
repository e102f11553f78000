import mimetypes
from collections import defaultdict
from dataclasses import astuple

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Prefetch, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from members import fragments
from members import services as member_services
from members.access import bureau_required, is_bureau, person_of
from members.activity import scope_of
from members.models import Action, Institution, Person, count_of, dutch

from . import services
from .access import (
    get_coalition_for_user,
    get_input_for_user,
    get_membership_for_user,
    get_output_for_user,
    get_ring_for_user,
    get_ring_to_join,
    open_membership,
)
from .forms import (
    CoalitionContentForm,
    CoalitionForm,
    DecisionForm,
    InputForm,
    InputReplyForm,
    InviteToRingForm,
    JoinForm,
    MoveForm,
    OutputForm,
    RingForm,
)
from .models import Coalition, Input, Output, RingMembership, Theme

PAGE_SIZE = 24


# Directory ---------------------------------------------------------------------------------------


@login_required
def coalition_list(request):
    person = person_of(request)
    params = {
        key: request.GET.get(key, "").strip()
        for key in ("q", "school_year", "theme", "status", "institution", "mine")
    }
    # The members of the 24 coalitions shown, one subquery each (not a join over all
    # memberships grouped, and counted again for the pages).
    coalitions = (
        Coalition.objects.select_related("theme").annotate(
            member_count=count_of(
                RingMembership.objects.active().filter(coalition=OuterRef("pk")), "coalition"
            )
        )
    ).prefetch_related(
        Prefetch("leads", queryset=Person.objects.select_related("institution").dutch_order())
    )
    if params["q"]:
        q = params["q"]
        coalitions = coalitions.filter(
            Q(name__icontains=q)
            | Q(theme__name__icontains=q)
            | Q(assignment__icontains=q)
            | Q(intended_output__icontains=q)
        )
    if params["school_year"]:
        coalitions = coalitions.filter(school_year=params["school_year"])
    if params["theme"].isdigit():
        coalitions = coalitions.filter(theme_id=int(params["theme"]))
    if params["status"] in Coalition.Status.values:
        coalitions = coalitions.filter(status=params["status"])
    if params["institution"].isdigit():
        institution_id = int(params["institution"])
        coalitions = coalitions.filter(
            Q(leads__institution_id=institution_id)
            | Q(
                memberships__person__institution_id=institution_id,
                memberships__status=RingMembership.Status.ACTIVE,
            )
        ).distinct()
    if params["mine"] == "1":
        coalitions = coalitions.filter(pk__in=Coalition.objects.involving(person).values("pk"))
    # Everything below is read only when the kept fragments of the page are not there
    # (templates/coalitions/coalition_list.html): the directory is the same for everyone
    # with the same filters, until a coalition, ring membership or person changes.
    ordered = coalitions.order_by("-school_year", dutch("name"), "pk")
    context = {
        "page": SimpleLazyObject(
            lambda: Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
        ),
        "params": params,
        "whose": person.pk if params["mine"] == "1" and person else "",
        "years": Coalition.objects.order_by("-school_year")
        .values_list("school_year", flat=True)
        .distinct(),
        "themes": Theme.objects.filter(coalitions__isnull=False).distinct().order_by(dutch("name")),
        "statuses": Coalition.Status.choices,
        "institutions": Institution.objects.exclude(kind=Institution.Kind.BUREAU)
        .order_by("name")
        .values_list("pk", "name"),
        "is_bureau": is_bureau(request),
    }
    template = "coalitions/coalition_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


# Themes (the bureau's list) ----------------------------------------------------------------------


@bureau_required
def theme_list(request):
    """The list of themes the bureau keeps: add one, rename one, merge two spellings."""
    if request.method == "POST":
        try:
            if request.POST.get("theme", "").isdigit():
                theme = get_object_or_404(Theme, pk=int(request.POST["theme"]))
                into = request.POST.get("into", "")
                if into.isdigit():
                    target = get_object_or_404(Theme, pk=int(into))
                    services.merge_themes(theme, target, by=person_of(request))
                    messages.success(
                        request, _("The theme is merged into %(name)s.") % {"name": target.name}
                    )
                else:
                    services.rename_theme(
                        theme, request.POST.get("name", ""), by=person_of(request)
                    )
                    messages.success(request, _("The theme is renamed."))
            else:
                theme = services.create_theme(request.POST.get("name", ""), by=person_of(request))
                messages.success(request, _("%(name)s is added.") % {"name": theme.name})
        except services.ThemeError as error:
            messages.error(request, str(error))
        return redirect("coalitions:themes")
    themes = list(
        Theme.objects.annotate(coalition_count=Count("coalitions")).order_by(dutch("name"))
    )
    return render(request, "coalitions/theme_list.html", {"themes": themes})


# One coalition -----------------------------------------------------------------------------------


@login_required
def coalition_detail(request, pk: int):
    coalition = get_coalition_for_user(
        request,
        pk,
        queryset=Coalition.objects.select_related("bureau_contact", "theme").prefetch_related(
            Prefetch("leads", queryset=Person.objects.select_related("institution").dutch_order())
        ),
    )
    person = person_of(request)
    membership = open_membership(person, coalition)
    rights = coalition.rights_of(person, membership)
    bureau = is_bureau(request)
    # The page is the same for everyone in the same place (their membership's ring and state,
    # their rights): kept per coalition and place (members.fragments); the rings, members,
    # input, outputs and phases are read only when it is not there.
    context = {
        "coalition": coalition,
        "membership": membership,
        "manage": rights.manage,
        "workspace": rights.see_workspace,
        "may_post_outputs": rights.post_outputs,
        "is_bureau": bureau,
        "place": (
            membership.ring_id if membership else "",
            membership.status if membership else "",
            membership.requested_ring_id if membership else "",
            astuple(rights),
            bureau,
        ),
        "join_form": JoinForm(),
        "input_form": InputForm() if rights.post_input else None,
        **fragments.lazily(
            lambda: _coalition_data(coalition, person, rights, bureau),
            ("rings", "inputs", "outputs", "lifecycle"),
        ),
    }
    return render(request, "coalitions/coalition_detail.html", context)


def _coalition_data(coalition: Coalition, person, rights, bureau: bool) -> dict:
    rings = list(coalition.rings.with_counts().order_by("order"))
    members_by_ring: dict[int, list] = defaultdict(list)
    inputs = []
    if rights.see_workspace:
        for m in (
            RingMembership.objects.active()
            .filter(coalition=coalition)
            .select_related("person__institution")
            .order_by("person__last_name")
        ):
            members_by_ring[m.ring_id].append(m.person)
        inputs = list(
            Input.objects.filter(coalition=coalition).select_related(
                "author__institution", "replied_by"
            )
        )
    for ring in rings:
        ring.people = members_by_ring.get(ring.pk, [])
    return {
        "rings": rings,
        "inputs": inputs,
        "outputs": Output.objects.filter(coalition=coalition)
        .visible_to(person, is_bureau=bureau)
        .select_related("ring"),
        "lifecycle": Action.objects.within(scope_of(coalition))
        .filter(verb__in=["coalition.created", "coalition.status_changed"])
        .select_related("actor")
        .order_by("at", "pk"),
    }


@bureau_required
def coalition_create(request):
    form = CoalitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        coalition = services.create_coalition(
            by=person_of(request),
            leads=fields.pop("leads"),
            followers_ring=request.POST.get("followers_ring") == "on",
            **fields,
        )
        messages.success(
            request,
            _("%(name)s is created with the rings Kern and Flexibele ring.")
            % {"name": coalition.name},
        )
        return redirect("coalitions:detail", coalition.pk)
    return render(request, "coalitions/coalition_form.html", {"form": form, "coalition": None})


@login_required
def coalition_edit(request, pk: int):
    coalition = get_coalition_for_user(request, pk, manage=True)
    form_class = CoalitionForm if is_bureau(request) else CoalitionContentForm
    form = form_class(request.POST or None, instance=coalition)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        services.update_coalition(
            coalition, by=person_of(request), leads=fields.pop("leads", None), **fields
        )
        messages.success(request, _("%(name)s is saved.") % {"name": coalition.name})
        return redirect("coalitions:detail", coalition.pk)
    return render(request, "coalitions/coalition_form.html", {"form": form, "coalition": coalition})


@bureau_required
def coalition_transition(request, pk: int):
    """Move to the next phase, after asking: there is no way back."""
    coalition = get_coalition_for_user(request, pk, manage=True)
    status = request.POST.get("status") or request.GET.get("status", "")
    if request.method != "POST" or request.POST.get("confirm") != "1":
        if status not in coalition.allowed_transitions():
            raise Http404
        label = Coalition.Status(status).label.lower()
        explanation = [
            _("%(name)s moves from %(current)s to %(new)s. A phase cannot be undone.")
            % {
                "name": coalition.name,
                "current": coalition.get_status_display().lower(),
                "new": label,
            }
        ]
        if status == Coalition.Status.CLOSED:
            explanation.append(
                _(
                    "A closed coalition takes no new members and its rings no longer change; its outputs stay findable."
                )
            )
        return render(
            request,
            "confirm.html",
            {
                "title": _("Move %(name)s to %(status)s?")
                % {"name": coalition.name, "status": label},
                "explanation": explanation,
                "action": reverse("coalitions:transition", args=[coalition.pk]),
                "fields": [("status", status)],
                "confirm_label": _("Yes, move to %(status)s") % {"status": label},
                "back": reverse("coalitions:detail", args=[coalition.pk]),
            },
        )
    try:
        services.transition(coalition, request.POST.get("status", ""), by=person_of(request))
    except (services.TransitionError, ValueError) as error:
        messages.error(
            request,
            str(error) if isinstance(error, services.TransitionError) else _("Unknown status."),
        )
    else:
        coalition.refresh_from_db()
        messages.success(
            request,
            _("The coalition is now in the phase “%(status)s”.")
            % {"status": coalition.get_status_display().lower()},
        )
    return redirect("coalitions:detail", coalition.pk)


# Rings -------------------------------------------------------------------------------------------


@login_required
def ring_edit(request, pk: int, ring_pk: int | None = None):
    coalition = get_coalition_for_user(request, pk, manage=True)
    ring = get_ring_for_user(request, coalition, ring_pk) if ring_pk else None
    initial = (
        {}
        if ring
        else {
            "order": (
                coalition.rings.order_by("-order").values_list("order", flat=True).first() or 0
            )
            + 1
        }
    )
    form = RingForm(request.POST or None, instance=ring, coalition=coalition, initial=initial)
    if request.method == "POST" and form.is_valid():
        ring = services.save_ring(form.save(commit=False), by=person_of(request))
        messages.success(request, _("%(ring)s is saved.") % {"ring": ring.name})
        return redirect("coalitions:board", coalition.pk)
    return render(
        request, "coalitions/ring_form.html", {"form": form, "coalition": coalition, "ring": ring}
    )


def _board_context(request, coalition: Coalition) -> dict:
    """The board is the same for every lead and the bureau: it is kept (members.fragments)
    until a ring, membership, person, attendance or log entry changes; its data is read only
    when it is not there."""
    return {
        "coalition": coalition,
        **fragments.lazily(
            lambda: _board_data(coalition),
            ("rings", "lead_ids", "invite_form", "decision_form"),
        ),
    }


def _board_data(coalition: Coalition) -> dict:
    rings = list(coalition.rings.with_counts().order_by("order"))
    memberships = list(
        RingMembership.objects.open()
        .filter(coalition=coalition)
        .select_related("person__institution", "ring")
        .order_by("person__last_name", "person__first_name")
    )
    history: dict[int, list] = defaultdict(list)
    for action in (
        Action.objects.within(scope_of(coalition))
        .filter(verb__startswith="membership.", person__in=[m.person_id for m in memberships])
        .select_related("actor")
        .order_by("-at", "-pk")
    ):
        history[action.person_id].append(action)
    by_ring = {ring.pk: {"active": [], "requested": [], "invited": []} for ring in rings}
    for m in memberships:
        m.history = history.get(m.person_id, [])
        if m.is_active:
            m.move_form = MoveForm(membership=m, rings=rings, prefix=f"m{m.pk}")
            by_ring[m.ring_id]["active"].append(m)
            if m.asks_to_move:  # a request to move shows with the ring it asks for
                by_ring[m.requested_ring_id]["requested"].append(m)
        elif m.is_requested:
            by_ring[m.ring_id]["requested"].append(m)
        else:
            by_ring[m.ring_id]["invited"].append(m)
    for ring in rings:
        ring.groups = by_ring[ring.pk]
        ring.institution_count = len({m.person.institution_id for m in ring.groups["active"]})
    return {
        "rings": rings,
        "lead_ids": coalition.lead_ids(),
        "invite_form": InviteToRingForm(coalition=coalition),
        "decision_form": DecisionForm(),
    }


def _board_response(request, coalition: Coalition):
    """After a change: the updated board for htmx, a redirect for a plain form."""
    if request.htmx:
        return render(
            request, "coalitions/ring_board.html#board", _board_context(request, coalition)
        )
    return redirect("coalitions:board", coalition.pk)


@login_required
def ring_board(request, pk: int):
    coalition = get_coalition_for_user(request, pk, manage=True)
    return render(request, "coalitions/ring_board.html", _board_context(request, coalition))


def _run(request, action, *args, **kwargs) -> bool:
    try:
        action(*args, **kwargs)
    except services.MembershipError as error:
        messages.error(request, str(error))
        return False
    return True


@login_required
@require_POST
def request_accept(request, membership_pk: int):
    membership = get_membership_for_user(request, membership_pk, manage=True)
    form = DecisionForm(request.POST)
    message = form.cleaned_data["message"] if form.is_valid() else ""
    ring = membership.requested_ring if membership.asks_to_move else membership.ring
    if _run(request, services.accept_request, membership, by=person_of(request), message=message):
        messages.success(
            request,
            _("%(name)s is now in %(ring)s.")
            % {"name": membership.person.full_name, "ring": ring.name},
        )
    return _board_response(request, membership.coalition)


@login_required
@require_POST
def request_decline(request, membership_pk: int):
    membership = get_membership_for_user(request, membership_pk, manage=True)
    form = DecisionForm(request.POST)
    message = form.cleaned_data["message"] if form.is_valid() else ""
    if _run(request, services.decline_request, membership, by=person_of(request), message=message):
        messages.success(
            request,
            _("The request of %(name)s is declined.") % {"name": membership.person.full_name},
        )
    return _board_response(request, membership.coalition)


@login_required
@require_POST
def membership_move(request, membership_pk: int):
    membership = get_membership_for_user(request, membership_pk, manage=True)
    form = MoveForm(request.POST, membership=membership, prefix=f"m{membership.pk}")
    if not form.is_valid():
        messages.error(request, _("Choose a ring of this coalition."))
    elif _run(
        request, services.move_member, membership, form.cleaned_data["ring"], by=person_of(request)
    ):
        messages.success(
            request,
            _("%(name)s moved to %(ring)s.")
            % {"name": membership.person.full_name, "ring": form.cleaned_data["ring"].name},
        )
    return _board_response(request, membership.coalition)


@login_required
@require_POST
def membership_end(request, membership_pk: int):
    membership = get_membership_for_user(request, membership_pk, manage=True)
    if _run(request, services.end_membership, membership, by=person_of(request)):
        messages.success(
            request,
            _("The place of %(name)s in %(ring)s has ended.")
            % {"name": membership.person.full_name, "ring": membership.ring.name},
        )
    return _board_response(request, membership.coalition)


@login_required
@require_POST
def ring_invite(request, pk: int):
    coalition = get_coalition_for_user(request, pk, manage=True)
    form = InviteToRingForm(request.POST, coalition=coalition)
    if not form.is_valid():
        messages.error(request, _("Give an e-mail address and a ring."))
        return _board_response(request, coalition)
    data = form.cleaned_data
    lead = person_of(request)
    try:
        person = member_services.find_or_register_contact(
            data["email"], first_name=data["first_name"], last_name=data["last_name"]
        )
    except member_services.UnknownContact:
        messages.error(
            request,
            _(
                "Nobody is registered with %(email)s. Give a first and last name and an address of a member institution, or ask the bureau."
            )
            % {"email": data["email"]},
        )
        return _board_response(request, coalition)
    if _run(request, services.invite_to_ring, person, data["ring"], by=lead):
        if person.user_id is None:
            member_services.invite(
                person,
                invited_by=lead,
                message=_("You are invited to %(ring)s of the coalition %(coalition)s.")
                % {"ring": data["ring"].name, "coalition": coalition.name},
            )
        messages.success(
            request,
            _("%(name)s is invited to %(ring)s.")
            % {"name": person.full_name, "ring": data["ring"].name},
        )
    return _board_response(request, coalition)


# The member's own steps --------------------------------------------------------------------------


@login_required
@require_POST
def ring_join(request, ring_pk: int):
    ring, person = get_ring_to_join(request, ring_pk)
    form = JoinForm(request.POST)
    motivation = form.cleaned_data["motivation"] if form.is_valid() else ""
    current = open_membership(person, ring.coalition)
    try:
        if current is not None and current.is_active:
            # Already in another ring of this coalition: ask to move, staying there meanwhile.
            membership = services.request_move(current, ring, person=person, motivation=motivation)
        else:
            membership = services.join_ring(person, ring, motivation=motivation)
    except services.MembershipError as error:
        messages.error(request, str(error))
    else:
        if membership.asks_to_move:
            messages.success(
                request,
                _(
                    "Your request to move to %(ring)s is sent to the leads. Until they decide you stay in %(current)s."
                )
                % {"ring": ring.name, "current": membership.ring.name},
            )
        elif membership.is_active:
            messages.success(
                request,
                _("Welcome to %(ring)s of %(coalition)s.")
                % {"ring": ring.name, "coalition": ring.coalition.name},
            )
        else:
            messages.success(
                request,
                _("Your request to join %(ring)s is sent to the leads. You will hear from them.")
                % {"ring": ring.name},
            )
    return redirect(reverse("coalitions:detail", args=[ring.coalition_id]) + "#ringen")


@login_required
def membership_leave(request, membership_pk: int):
    """Leave a ring (or withdraw a request), after asking: a place in an on-request ring is not
    simply taken back."""
    membership = get_membership_for_user(request, membership_pk)
    if request.method != "POST" or request.POST.get("confirm") != "1":
        ring = membership.ring.name
        return render(
            request,
            "confirm.html",
            {
                "title": _("Leave %(ring)s?") % {"ring": ring}
                if membership.is_active
                else _("Withdraw your request for %(ring)s?") % {"ring": ring},
                "explanation": [
                    _(
                        "You are then in no ring of %(coalition)s. To come back you join again, by the rules of the ring (for the Kern: on request)."
                    )
                    % {"coalition": membership.coalition.name}
                ],
                "action": reverse("coalitions:membership_leave", args=[membership.pk]),
                "confirm_label": _("Yes, leave %(ring)s") % {"ring": ring}
                if membership.is_active
                else _("Yes, withdraw"),
                "button_class": "button-danger",
                "back": reverse("coalitions:detail", args=[membership.coalition_id]),
            },
        )
    if _run(request, services.leave, membership, person=person_of(request)):
        messages.success(
            request, _("You are no longer in %(ring)s.") % {"ring": membership.ring.name}
        )
    return redirect("coalitions:detail", membership.coalition_id)


@login_required
@require_POST
def move_withdraw(request, membership_pk: int):
    membership = get_membership_for_user(request, membership_pk)
    if _run(request, services.withdraw_move, membership, person=person_of(request)):
        messages.success(
            request,
            _("You withdrew your request. You stay in %(ring)s.") % {"ring": membership.ring.name},
        )
    return redirect(reverse("coalitions:detail", args=[membership.coalition_id]) + "#ringen")


@login_required
@require_POST
def invitation_respond(request, membership_pk: int):
    membership = get_membership_for_user(request, membership_pk)
    person = person_of(request)
    if request.POST.get("answer") == "accept":
        if _run(request, services.accept_invitation, membership, person=person):
            messages.success(request, _("Welcome to %(ring)s.") % {"ring": membership.ring.name})
    elif _run(request, services.decline_invitation, membership, person=person):
        messages.success(request, _("You declined the invitation."))
    return redirect("coalitions:detail", membership.coalition_id)


# Input and outputs -------------------------------------------------------------------------------


@login_required
@require_POST
def input_create(request, pk: int):
    coalition = get_coalition_for_user(request, pk)
    person = person_of(request)
    if not coalition.rights_of(person, open_membership(person, coalition)).post_input:
        raise PermissionDenied
    form = InputForm(request.POST)
    if form.is_valid():
        services.add_input(coalition, by=person, **form.cleaned_data)
        messages.success(request, _("Thank you: the leads will look at your input."))
        return redirect(reverse("coalitions:detail", args=[coalition.pk]) + "#inbreng")
    return render(
        request, "coalitions/input_form.html", {"coalition": coalition, "form": form}, status=400
    )


@login_required
def input_reply(request, pk: int):
    item = get_input_for_user(request, pk, manage=True)
    form = InputReplyForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        services.answer_input(
            item,
            by=person_of(request),
            status=form.cleaned_data["status"],
            reply=form.cleaned_data["reply"],
        )
        messages.success(
            request,
            _("The input is marked %(status)s.") % {"status": item.get_status_display().lower()},
        )
        return redirect(reverse("coalitions:detail", args=[item.coalition_id]) + "#inbreng")
    return render(
        request,
        "coalitions/input_reply.html",
        {"item": item, "form": form, "coalition": item.coalition},
    )


@login_required
def output_create(request, pk: int):
    coalition = get_coalition_for_user(request, pk)
    person = person_of(request)
    if not coalition.rights_of(person, open_membership(person, coalition)).post_outputs:
        raise PermissionDenied
    form = OutputForm(request.POST or None, request.FILES or None, coalition=coalition)
    if request.method == "POST" and form.is_valid():
        output = services.add_output(form.save(commit=False), by=person)
        messages.success(request, _("%(title)s is added.") % {"title": output.title})
        return redirect(reverse("coalitions:detail", args=[coalition.pk]) + "#opbrengsten")
    return render(request, "coalitions/output_form.html", {"coalition": coalition, "form": form})


def output_download(request, pk: int):
    """Serve an uploaded output to those who may see it, always as a download."""
    output = get_output_for_user(request, pk)
    if not output.file:
        raise Http404
    filename = output.file.name.rsplit("/", 1)[-1]
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = FileResponse(
        output.file.open("rb"), as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _place_for_outputs(person, bureau: bool) -> str:
    """Who sees the same outputs (Output.visible_to): the bureau, a visitor, or a member by
    the rings they are active in and the coalitions they lead."""
    if bureau:
        return "bureau"
    if person is None:
        return "public"
    rings = sorted(
        RingMembership.objects.active().filter(person=person).values_list("ring_id", flat=True)
    )
    led = sorted(Coalition.objects.led_by(person).values_list("pk", flat=True))
    return f"rings:{rings} leads:{led}"


def output_library(request):
    """Outputs across all coalitions and years; the public ones also for visitors without login."""
    person = person_of(request) if request.user.is_authenticated else None
    outputs = Output.objects.visible_to(person, is_bureau=is_bureau(request)).select_related(
        "coalition"
    )
    query = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    if query:
        outputs = outputs.filter(
            Q(title__icontains=query)
            | Q(description__icontains=query)
            | Q(coalition__name__icontains=query)
            | Q(coalition__theme__name__icontains=query)
        )
    if kind in Output.Kind.values:
        outputs = outputs.filter(kind=kind)
    ordered = outputs.order_by("-created_at", "pk")
    # What someone may see depends on where they are (Output.visible_to): the results are kept
    # for everyone in the same place — the same active rings and led coalitions — and read only
    # when they are not there.
    context = {
        "page": SimpleLazyObject(
            lambda: Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
        ),
        "place": _place_for_outputs(person, is_bureau(request)),
        "query": query,
        "kind": kind,
        "kinds": Output.Kind.choices,
    }
    template = "coalitions/output_library.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)
