import datetime as dt
import mimetypes
from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from kwaliteitsnetwerk import caching
from kwaliteitsnetwerk.caching import versions_of
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
    CandidateJoinForm,
    CoalitionContentForm,
    CoalitionForm,
    CommentForm,
    DecisionForm,
    DeclineForm,
    EvaluationForm,
    InputForm,
    InputReplyForm,
    InviteToRingForm,
    JoinForm,
    MoveForm,
    OutputForm,
    ProposalForm,
    RingForm,
    ThemeRoundForm,
)
from .models import (
    Coalition,
    Evaluation,
    Input,
    Output,
    Proposal,
    ProposalComment,
    Ring,
    RingMembership,
    Support,
    Theme,
    ThemeRound,
    taking_part,
)
from .uploads import FileNotStored

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
        coalitions = coalitions.filter(
            taking_part(coalition=OuterRef("pk"), person__institution_id=int(params["institution"]))
        )
    if params["mine"] == "1":
        coalitions = coalitions.filter(
            pk__in=Coalition.objects.taken_part_in_by(person).values("pk")
        )
    ordered = coalitions.order_by("-school_year", dutch("name"), "pk")
    # The results and the filters are the same for everyone with the same filters (and for
    # "mine" per person): cached by the versions of every coalition, theme and person shown,
    # and of the institutions to filter by; read only when not there.
    versions = Coalition.directory_versions()
    context = {
        "results_key": caching.key(
            "coalition-results",
            versions,
            request.GET.urlencode(),
            person.pk if params["mine"] == "1" and person else "",
        ),
        "filters_key": caching.key(
            "coalition-filters",
            versions,
            versions_of(Institution.objects.all()),
            *(params[name] for name in ("school_year", "theme", "status", "institution")),
        ),
        **caching.lazily(
            lambda: {"page": Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))},
            ("page",),
        ),
        "params": params,
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
        request, pk, queryset=Coalition.objects.select_related("theme")
    )
    person = person_of(request)
    membership = open_membership(person, coalition)
    rights = coalition.rights_of(person, membership)
    bureau = is_bureau(request)
    # The head, the rings, the input and the outputs are cached by the coalition's versions
    # and by where this person stands (Coalition.place_of: what rights_of and
    # Output.objects.visible_to read); their data is read only when not there.
    place = coalition.place_of(person, membership)
    versions = coalition.versions
    context = {
        "coalition": coalition,
        "membership": membership,
        "manage": rights.manage,
        "workspace": rights.see_workspace,
        "may_post_outputs": rights.post_outputs,
        "is_bureau": bureau,
        "head_key": caching.key("coalition-head", versions, coalition.theme.name, place),
        "rings_key": caching.key("coalition-rings", versions, place),
        "inputs_key": caching.key("coalition-inputs", versions, place),
        "outputs_key": caching.key("coalition-outputs", versions, place),
        "join_form": JoinForm(),
        "input_form": InputForm() if rights.post_input else None,
        "may_evaluate": coalition.may_evaluate(person, membership),
        **caching.lazily(lambda: _rings_of(coalition, rights, membership), ("rings",)),
        **caching.lazily(lambda: {"inputs": _inputs_of(coalition, rights)}, ("inputs",)),
        **caching.lazily(
            lambda: {
                "outputs": Output.objects.filter(coalition=coalition)
                .visible_to(person)
                .select_related("ring"),
                "leads": coalition.leads.select_related("institution").dutch_order(),
                "bureau_contact": coalition.bureau_contact,
                "lifecycle": Action.objects.within(scope_of(coalition))
                .filter(verb__in=["coalition.created", "coalition.status_changed"])
                .select_related("actor")
                .order_by("at", "pk"),
            },
            ("outputs", "leads", "bureau_contact", "lifecycle"),
        ),
        **_line_of(coalition),
    }
    return render(request, "coalitions/coalition_detail.html", context)


def _rings_of(coalition: Coalition, rights, membership) -> dict:
    """The rings with their counts, what each offers this person (Ring.offer_to), and their
    members where this person sees the workspace."""
    rings = list(coalition.rings.with_counts().order_by("order"))
    members_by_ring: dict[int, list] = defaultdict(list)
    if rights.see_workspace:
        for m in (
            RingMembership.objects.active()
            .filter(coalition=coalition)
            .select_related("person__institution")
            .order_by("person__last_name")
        ):
            members_by_ring[m.ring_id].append(m.person)
    for ring in rings:
        ring.people = members_by_ring.get(ring.pk, [])
        ring.offer = ring.offer_to(membership)
    return {"rings": rings}


def _inputs_of(coalition: Coalition, rights) -> list:
    if not rights.see_workspace:
        return []
    return list(
        Input.objects.filter(coalition=coalition).select_related(
            "author__institution", "replied_by"
        )
    )


def _line_of(coalition: Coalition) -> dict:
    """The coalitions on this theme before it (oldest first) with what the network may read of
    them — their outputs for the network and their evaluation — and those that continue it."""
    line = coalition.line()
    shared = Output.objects.for_network()
    by_coalition = defaultdict(list)
    for output in shared.filter(coalition__in=[c.pk for c in line]):
        by_coalition[output.coalition_id].append(output)
    evaluations = {
        e.coalition_id: e
        for e in Evaluation.objects.filter(coalition__in=[c.pk for c in line] + [coalition.pk])
    }
    for earlier in line:
        earlier.shared_outputs = by_coalition[earlier.pk]
        earlier.kept_evaluation = evaluations.get(earlier.pk)
    return {
        "line": line,
        "followers": list(coalition.continued_by.order_by("school_year", "name")),
        "evaluation": evaluations.get(coalition.pk),
    }


def _new_theme(fields: dict, *, by) -> None:
    """A theme named in the form (CoalitionForm.new_theme) is added through the one door."""
    name = fields.pop("new_theme", "")
    if name:
        fields["theme"] = services.create_theme(name, by=by)


@bureau_required
def coalition_create(request):
    form = CoalitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        with transaction.atomic():  # a new theme only with the coalition that needs it
            _new_theme(fields, by=person_of(request))
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
        with transaction.atomic():
            _new_theme(fields, by=person_of(request))
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
    """The board: the rings with their requests, members (and their commitment) and
    invitations, the same for every lead and the bureau: cached by the coalition's versions
    (and the attendance's, templates/coalitions/ring_board.html); read only when not there."""
    return {
        "coalition": coalition,
        "board_key": caching.key("ring-board", coalition.versions),
        "invite_form": InviteToRingForm(coalition=coalition),
        **caching.lazily(lambda: _board_data(coalition), ("rings", "lead_ids")),
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
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.invite_by_address(
                data["ring"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                by=person_of(request),
            )
        except member_services.UnknownContact:
            form.add_error(
                "email",
                _(
                    "Nobody is registered with %(email)s. Give a first and last name and an address of a member institution, or ask the bureau."
                )
                % {"email": data["email"]},
            )
        except services.MembershipError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("%(name)s is invited to %(ring)s.")
                % {"name": membership.person.full_name, "ring": data["ring"].name},
            )
            return _board_response(request, coalition)
    # The board again with the form as it was filled in, each error beside its field.
    context = _board_context(request, coalition) | {"invite_form": form}
    if request.htmx:
        return render(request, "coalitions/ring_board.html#board", context)
    return render(request, "coalitions/ring_board.html", context, status=400)


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
        try:
            output = services.add_output(form.save(commit=False), by=person)
        except FileNotStored as error:
            # The disk is full or read-only: said beside the file, the rest stays as typed.
            form.add_error("file", str(error))
            context = {"coalition": coalition, "form": form}
            return render(request, "coalitions/output_form.html", context, status=503)
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


def output_library(request):
    """Outputs across all coalitions and years; the public ones also for visitors without login."""
    person = person_of(request) if request.user.is_authenticated else None
    outputs = Output.objects.visible_to(person).select_related("coalition")
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
    context = {
        "page": Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page")),
        "harvest_person": person,
        "query": query,
        "kind": kind,
        "kinds": Output.Kind.choices,
    }
    template = "coalitions/output_library.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


# The yearly cycle --------------------------------------------------------------------------------


def _person_required(request) -> Person:
    person = person_of(request)
    if person is None:
        raise PermissionDenied
    return person


@login_required
def round_list(request):
    """Every theme round, the open one first: what the network brought in, year by year."""
    now = timezone.now()
    rounds = list(
        ThemeRound.objects.annotate(proposal_count=Count("proposals")).order_by("-school_year")
    )
    return render(
        request,
        "coalitions/round_list.html",
        {
            "rounds": rounds,
            "open_rounds": [r for r in rounds if r.is_open(now)],
            "is_bureau": is_bureau(request),
        },
    )


@bureau_required
def round_edit(request, pk: int | None = None):
    theme_round = get_object_or_404(ThemeRound, pk=pk) if pk else None
    form = ThemeRoundForm(request.POST or None, instance=theme_round)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        if theme_round is None:
            theme_round = services.open_round(by=person_of(request), **fields)
            messages.success(
                request, _("The theme round %(year)s is set.") % {"year": theme_round.school_year}
            )
        else:
            services.change_round(theme_round, by=person_of(request), **fields)
            messages.success(request, _("The theme round is saved."))
        return redirect("coalitions:round", theme_round.pk)
    return render(request, "coalitions/round_form.html", {"form": form, "round": theme_round})


@bureau_required
@require_POST
def round_close(request, pk: int):
    """Ask first: closing early ends the voting for everyone and cannot be undone."""
    theme_round = get_object_or_404(ThemeRound, pk=pk)
    if request.POST.get("confirm") != "1" and not theme_round.is_closed():
        return render(
            request,
            "confirm.html",
            {
                "title": _("Close the theme round %(year)s now?")
                % {"year": theme_round.school_year},
                "explanation": [
                    _(
                        "Nobody can bring in, support or comment on a theme any more; the votes are counted as they stand."
                    ),
                    _("A closed round cannot be opened again."),
                ],
                "action": reverse("coalitions:round_close", args=[theme_round.pk]),
                "confirm_label": _("Yes, close the round"),
                "button_class": "button-danger",
                "back": reverse("coalitions:round", args=[theme_round.pk]),
            },
        )
    try:
        services.close_round(theme_round, by=person_of(request))
    except services.CycleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The round is closed: the votes are counted as they stand."))
    return redirect("coalitions:round", theme_round.pk)


def _votes_used(person: Person | None, theme_round: ThemeRound) -> set[int]:
    if person is None:
        return set()
    return set(
        Support.objects.filter(person=person, proposal__round=theme_round).values_list(
            "proposal_id", flat=True
        )
    )


@login_required
def round_detail(request, pk: int):
    """Everyone sees the proposals of a round, with how many support each and from how many
    institutions; while it is open they propose, support (within their votes) and comment."""
    theme_round = get_object_or_404(ThemeRound, pk=pk)
    person = person_of(request)
    proposals = list(
        theme_round.proposals.ranked()
        .annotate(
            comment_count=count_of(
                ProposalComment.objects.filter(proposal=OuterRef("pk")), "proposal"
            )
        )
        .select_related("institution", "coalition")
    )
    mine = _votes_used(person, theme_round)
    for proposal in proposals:
        proposal.supported = proposal.pk in mine
    return render(
        request,
        "coalitions/round_detail.html",
        {
            "round": theme_round,
            "proposals": proposals,
            "is_open": theme_round.is_open(),
            "is_closed": theme_round.is_closed(),
            "votes_left": max(theme_round.votes_per_person - len(mine), 0),
            "is_bureau": is_bureau(request),
        },
    )


@login_required
def proposal_create(request, pk: int):
    theme_round = get_object_or_404(ThemeRound, pk=pk)
    person = _person_required(request)
    if not theme_round.is_open():
        messages.error(request, _("This theme round is not open for proposals."))
        return redirect("coalitions:round", theme_round.pk)
    form = ProposalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            proposal = services.propose(theme_round, by=person, **form.cleaned_data)
        except services.CycleError as error:
            messages.error(request, str(error))
            return redirect("coalitions:round", theme_round.pk)
        messages.success(
            request, _("Your theme “%(title)s” is in the round.") % {"title": proposal.title}
        )
        return redirect("coalitions:proposal", proposal.pk)
    return render(request, "coalitions/proposal_form.html", {"form": form, "round": theme_round})


def _get_proposal(pk: int) -> Proposal:
    return get_object_or_404(
        Proposal.objects.select_related("round", "institution", "proposed_by", "coalition"), pk=pk
    )


@login_required
def proposal_detail(request, pk: int):
    """A proposal with its supporters' institutions, its comments (add one while the round is
    open) and, once decided, the coalition it became or the reason it was not chosen."""
    proposal = _get_proposal(pk)
    person = person_of(request)
    form = CommentForm(request.POST or None)
    if request.method == "POST":
        person = _person_required(request)
        if form.is_valid():
            try:
                services.comment_on(proposal, by=person, body=form.cleaned_data["body"])
            except services.CycleError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("Your comment is added."))
                return redirect(reverse("coalitions:proposal", args=[pk]) + "#reacties")
        status = 400
    else:
        status = 200
    bureau = is_bureau(request)
    supports = list(proposal.supports.select_related("person__institution").order_by("created_at"))
    return render(
        request,
        "coalitions/proposal_detail.html",
        {
            "proposal": proposal,
            "supporter_count": len(supports),
            "institution_count": len({s.person.institution_id for s in supports}),
            # Who supports what per institution is the bureau's (with small institutions the
            # counts would tell who voted).
            "institutions": _by_institution([s.person for s in supports]) if bureau else [],
            "comments": proposal.comments.select_related("author__institution"),
            "form": form,
            "is_open": proposal.round.is_open(),
            "supported": bool(person) and any(s.person_id == person.pk for s in supports),
            "is_bureau": bureau,
            "may_decide": bureau and proposal.is_decidable(),
        },
        status=status,
    )


def _by_institution(people) -> list[tuple[str, int, int]]:
    """(institution, people, ambassadors among them), most first."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for someone in people:
        name = someone.institution.name if someone.institution_id else "—"
        counts[name][0] += 1
        counts[name][1] += int(someone.is_ambassador)
    return sorted(
        ((name, n, amb) for name, (n, amb) in counts.items()), key=lambda row: (-row[1], row[0])
    )


@login_required
@require_POST
def proposal_support(request, pk: int):
    """Support a proposal, or withdraw the support (while the round is open)."""
    proposal = _get_proposal(pk)
    person = _person_required(request)
    try:
        if request.POST.get("action") == "withdraw":
            services.withdraw_support(proposal, person=person)
            messages.success(
                request, _("Your support for “%(title)s” is withdrawn.") % {"title": proposal.title}
            )
        else:
            services.support(proposal, person=person)
            messages.success(request, _("You support “%(title)s”.") % {"title": proposal.title})
    except services.CycleError as error:
        messages.error(request, str(error))
    if request.POST.get("from") == "round":
        return redirect(reverse("coalitions:round", args=[proposal.round_id]) + f"#voorstel-{pk}")
    return redirect("coalitions:proposal", pk)


@bureau_required
def round_ranking(request, pk: int):
    """The bureau's ranking: each proposal's supporters per institution, so that a theme carried
    by one institution is told apart from one carried by many; ambassadors marked."""
    theme_round = get_object_or_404(ThemeRound, pk=pk)
    proposals = list(
        theme_round.proposals.ranked().select_related("institution", "proposed_by", "coalition")
    )
    supporters = defaultdict(list)
    for s in (
        Support.objects.filter(proposal__round=theme_round)
        .select_related("person__institution")
        .order_by("person__last_name")
    ):
        supporters[s.proposal_id].append(s.person)
    for proposal in proposals:
        proposal.institutions = _by_institution(supporters[proposal.pk])
    return render(
        request,
        "coalitions/round_ranking.html",
        {"round": theme_round, "proposals": proposals, "is_closed": theme_round.is_closed()},
    )


@bureau_required
def proposal_decide(request, pk: int):
    """Choose a proposal (it becomes a coalition in preparation) or decline it with a reason."""
    proposal = _get_proposal(pk)
    first = int(proposal.round.school_year[:4])
    # The theme of the same name if the list has it; a new one can be named in the form.
    theme = Theme.objects.filter(name__iexact=proposal.title).first()
    adopt = CoalitionForm(
        request.POST if request.POST.get("decision") == "adopt" else None,
        initial={
            "theme": theme,
            "name": proposal.title,
            "school_year": proposal.round.school_year,
            "assignment": proposal.question,
            "goal": proposal.why_now,
            "intended_output": proposal.desired_output,
            "start": dt.date(first, 9, 1),
            "planned_end": dt.date(first + 1, 6, 30),
        },
        prefix="adopt",
    )
    decline = DeclineForm(
        request.POST if request.POST.get("decision") == "decline" else None, prefix="decline"
    )
    if request.method == "POST":
        try:
            if request.POST.get("decision") == "adopt" and adopt.is_valid():
                fields = dict(adopt.cleaned_data)
                with transaction.atomic():
                    _new_theme(fields, by=person_of(request))
                    coalition = services.adopt_proposal(
                        proposal, by=person_of(request), leads=fields.pop("leads"), **fields
                    )
                messages.success(
                    request,
                    _(
                        "%(name)s is a coalition in preparation; its %(count)s interested people are told."
                    )
                    % {"name": coalition.name, "count": coalition.interested.count()},
                )
                return redirect("coalitions:detail", coalition.pk)
            if request.POST.get("decision") == "decline" and decline.is_valid():
                services.decline_proposal(
                    proposal, by=person_of(request), reason=decline.cleaned_data["reason"]
                )
                messages.success(request, _("The proposal is not chosen; the proposer reads why."))
                return redirect("coalitions:ranking", proposal.round_id)
        except services.CycleError as error:
            messages.error(request, str(error))
            return redirect("coalitions:proposal", proposal.pk)
    return render(
        request,
        "coalitions/proposal_decide.html",
        {"proposal": proposal, "adopt": adopt, "decline": decline},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def recruitment(request, forms_with_errors: dict | None = None):
    """Every coalition in "werving" on one page: sign up for the Kern with a motivation, or
    join the Flexibele ring directly."""
    person = person_of(request)
    coalitions = list(
        Coalition.objects.filter(status=Coalition.Status.RECRUITING)
        .select_related("theme")
        .prefetch_related(
            Prefetch("rings", queryset=Ring.objects.with_counts().order_by("order")),
            Prefetch("leads", queryset=Person.objects.select_related("institution")),
        )
        .order_by(dutch("name"))
    )
    mine = (
        {
            m.coalition_id: m
            for m in RingMembership.objects.open()
            .filter(person=person, coalition__in=[c.pk for c in coalitions])
            .select_related("ring")
        }
        if person
        else {}
    )
    forms_with_errors = forms_with_errors or {}
    for coalition in coalitions:
        coalition.mine = mine.get(coalition.pk)
        for ring in coalition.rings.all():
            ring.form = forms_with_errors.get(ring.pk) or CandidateJoinForm(prefix=f"r{ring.pk}")
    return render(
        request,
        "coalitions/recruitment.html",
        {"coalitions": coalitions},
        status=400 if forms_with_errors else 200,
    )


@login_required
@require_POST
def recruitment_join(request, ring_pk: int):
    ring, person = get_ring_to_join(request, ring_pk)
    motivation = ""
    if not ring.joins_directly:
        form = CandidateJoinForm(request.POST, prefix=f"r{ring.pk}")
        if not form.is_valid():
            return recruitment(request, forms_with_errors={ring.pk: form})
        motivation = form.cleaned_data["motivation"]
    try:
        membership = services.join_ring(person, ring, motivation=motivation)
    except services.MembershipError as error:
        messages.error(request, str(error))
    else:
        if membership.is_active:
            messages.success(
                request,
                _("Welcome to %(ring)s of %(coalition)s.")
                % {"ring": ring.name, "coalition": ring.coalition.name},
            )
        else:
            messages.success(
                request,
                _(
                    "You are a candidate for %(ring)s of %(coalition)s. The leads choose the Kern; at the launch you hear where you are placed."
                )
                % {"ring": ring.name, "coalition": ring.coalition.name},
            )
    return redirect(reverse("coalitions:recruitment") + f"#coalitie-{ring.coalition_id}")


@login_required
def candidates(request, pk: int):
    """The leads and the bureau see the Kern's candidates by institution and choose the Kern."""
    coalition = get_coalition_for_user(request, pk, manage=True)
    core = coalition.rings.core().first()
    requests = (
        list(
            RingMembership.objects.filter(ring=core, status=RingMembership.Status.REQUESTED)
            .select_related("person__institution")
            .order_by("person__institution__name", "person__last_name")
        )
        if core
        else []
    )
    if request.method == "POST":
        chosen = {int(v) for v in request.POST.getlist("chosen") if v.isdigit()}
        try:
            count = services.choose_candidates(coalition, chosen, by=person_of(request))
        except services.CycleError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("%(count)s chosen for the %(ring)s. They are placed at the launch.")
                % {"count": count, "ring": core.name},
            )
        return redirect("coalitions:candidates", coalition.pk)
    by_institution = defaultdict(list)
    for membership in requests:
        by_institution[membership.person.institution.name].append(membership)
    coalition_for_rule = services.launchable().get(pk=coalition.pk)
    return render(
        request,
        "coalitions/candidates.html",
        {
            "coalition": coalition,
            "core": core,
            "by_institution": sorted(by_institution.items()),
            "count": len(requests),
            "problems": services.launch_problems(coalition_for_rule),
            "is_recruiting": coalition.is_recruiting,
        },
    )


@bureau_required
def launch(request):
    """The bureau launches the recruited coalitions together: all chosen, or none."""
    coalitions = list(
        services.launchable().filter(status=Coalition.Status.RECRUITING).order_by(dutch("name"))
    )
    for coalition in coalitions:
        coalition.problems = services.launch_problems(coalition)
    problems = []
    if request.method == "POST":
        chosen = [c for c in coalitions if str(c.pk) in request.POST.getlist("coalitions")]
        ready = chosen and not any(c.problems for c in chosen)
        if ready and request.POST.get("confirm") != "1":
            # Ask first: the launch places and mails everyone and cannot be undone.
            names = ", ".join(c.name for c in chosen)
            return render(
                request,
                "confirm.html",
                {
                    "title": ngettext(
                        "Launch %(count)s coalition?", "Launch %(count)s coalitions?", len(chosen)
                    )
                    % {"count": len(chosen)},
                    "explanation": [
                        _("These become active together: %(names)s.") % {"names": names},
                        _(
                            "The chosen candidates take their place in the Kern, the others in the next ring out, and everyone hears where they are placed. A launch cannot be undone."
                        ),
                    ],
                    "action": reverse("coalitions:launch"),
                    "fields": [("coalitions", c.pk) for c in chosen],
                    "confirm_label": _("Yes, launch and tell everyone"),
                    "back": reverse("coalitions:launch"),
                },
            )
        try:
            launched = services.launch(chosen, by=person_of(request))
        except services.LaunchError as error:
            problems = error.problems
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)s coalition is launched; everyone hears where they are placed.",
                    "%(count)s coalitions are launched; everyone hears where they are placed.",
                    len(launched),
                )
                % {"count": len(launched)},
            )
            return redirect("coalitions:launch")
    return render(
        request,
        "coalitions/launch.html",
        {
            "coalitions": coalitions,
            "problems": problems,
            "chosen": set(request.POST.getlist("coalitions")),
        },
        status=400 if problems else 200,
    )


@login_required
def evaluation_edit(request, pk: int):
    coalition = get_coalition_for_user(request, pk)
    person = person_of(request)
    if not coalition.may_evaluate(person, open_membership(person, coalition)):
        raise PermissionDenied
    instance = Evaluation.objects.filter(coalition=coalition).first()
    form = EvaluationForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.save_evaluation(coalition, by=person, **form.cleaned_data)
        messages.success(request, _("The evaluation is saved; the network can read it."))
        return redirect(reverse("coalitions:detail", args=[coalition.pk]) + "#evaluatie")
    return render(
        request,
        "coalitions/evaluation_form.html",
        {"form": form, "coalition": coalition},
        status=400 if request.method == "POST" else 200,
    )


@bureau_required
def evaluation_overview(request):
    """All evaluations of a school year side by side."""
    years = list(
        Coalition.objects.filter(evaluation__isnull=False)
        .order_by("-school_year")
        .values_list("school_year", flat=True)
        .distinct()
    )
    year = request.GET.get("jaar") or (years[0] if years else "")
    coalitions = list(
        Coalition.objects.filter(school_year=year)
        .exclude(status__in=[Coalition.Status.PREPARING, Coalition.Status.RECRUITING])
        .select_related("evaluation__updated_by", "theme")
        .order_by(dutch("name"))
    )
    return render(
        request,
        "coalitions/evaluations.html",
        {"years": years, "year": year, "coalitions": coalitions},
    )
