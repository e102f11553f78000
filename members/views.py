import json

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.signing import BadSignature
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from kwaliteitsnetwerk.redirects import safe_next

from . import imports, notify, retention, second_factor, services
from .access import bureau_required, person_of
from .csvfiles import csv_response
from .forms import (
    AcceptInvitationForm,
    EndMembershipForm,
    EraseForm,
    InstitutionForm,
    InvitationForm,
    MailPreferencesForm,
    MyDetailsForm,
    OutboxFilterForm,
    PersonForm,
    PostponeForm,
    RetentionForm,
)
from .models import Institution, Invitation, Notification, Person, RetentionHold, count_of, dutch
from .rows import url_pattern

PAGE_SIZE = 25


def _page(request, queryset):
    """The page asked for: one count and one query for its rows."""
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _render_list(request, template: str, context: dict):
    """A list page, or only its results when htmx asks (live search)."""
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


# Institutions -----------------------------------------------------------------------------------

INSTITUTION_SORTS = {
    "name": dutch("name"),
    "-name": dutch("name").desc(),
    "city": dutch("city"),
    "people": "-people_count",
}


@bureau_required
def institution_list(request):
    query = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    membership = request.GET.get("membership", "current")
    sort = request.GET.get("sort", "name")
    # A subquery per row shown, not a join over all people grouped (and counted again for
    # the pages): the count runs for the page's 25 rows unless the list is sorted by it.
    institutions = Institution.objects.annotate(
        people_count=count_of(
            Person.objects.filter(institution=OuterRef("pk"), erased_at__isnull=True), "institution"
        )
    )
    if query:
        institutions = institutions.filter(
            Q(name__icontains=query)
            | Q(short_name__icontains=query)
            | Q(city__icontains=query)
            | Q(brin__iexact=query)
        )
    if kind in Institution.Kind.values:
        institutions = institutions.filter(kind=kind)
    if membership == "current":
        institutions = institutions.members_on()
    elif membership == "former":
        institutions = institutions.filter(member_until__lt=timezone.localdate())
    institutions = institutions.order_by(INSTITUTION_SORTS.get(sort, dutch("name")), "pk")
    page = _page(request, institutions)
    # One URL pattern and the kinds' labels once for the rows: a reverse per row, and
    # get_kind_display translating every kind for every row, were most of the live search.
    detail = url_pattern("members:institution_detail")
    kinds = {kind: str(label) for kind, label in Institution.Kind.choices}
    for institution in page:
        institution.url = detail.format(institution.pk)
        institution.kind_label = kinds.get(institution.kind, institution.kind)
    context = {
        "page": page,
        "query": query,
        "kind": kind,
        "membership": membership,
        "sort": sort,
        "kinds": Institution.Kind.choices,
        "sorts": [
            ("name", _("Name (A–Z)")),
            ("-name", _("Name (Z–A)")),
            ("city", _("City")),
            ("people", _("Most people")),
        ],
        "memberships": [
            ("current", _("Current members")),
            ("former", _("Former members")),
            ("all", _("All")),
        ],
    }
    return _render_list(request, "members/institution_list.html", context)


@bureau_required
def institution_detail(request, pk: int):
    institution = get_object_or_404(Institution.objects.prefetch_related("email_domains"), pk=pk)
    # Only what the table shows: the tags take part and attendance from these people's ids.
    people = (
        institution.people.filter(erased_at__isnull=True)
        .only("first_name", "infix", "last_name", "function", "user_id")
        .dutch_order()
    )
    return render(
        request,
        "members/institution_detail.html",
        {
            "institution": institution,
            "people": people,
            "person_url": url_pattern("members:person_detail"),
            "coalition_url": url_pattern("coalitions:detail"),
            "end_form": EndMembershipForm(initial={"member_until": timezone.localdate()}),
        },
    )


@bureau_required
def institution_edit(request, pk: int | None = None):
    institution = get_object_or_404(Institution, pk=pk) if pk else None
    form = InstitutionForm(request.POST or None, instance=institution)
    if request.method == "POST" and form.is_valid():
        institution = services.save_institution(form, by=person_of(request))
        messages.success(request, _("%(name)s is saved.") % {"name": institution.name})
        return redirect("members:institution_detail", institution.pk)
    return render(
        request, "members/institution_form.html", {"form": form, "institution": institution}
    )


@bureau_required
@require_POST
def institution_end_membership(request, pk: int):
    institution = get_object_or_404(Institution, pk=pk)
    form = EndMembershipForm(request.POST)
    if form.is_valid():
        until = form.cleaned_data["member_until"]
        try:
            services.end_institution_membership(institution, until=until, by=person_of(request))
        except services.MembershipDateError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("The membership of %(name)s ends on %(date)s. Its history is kept.")
                % {"name": institution.name, "date": until.strftime("%d-%m-%Y")},
            )
    else:
        messages.error(request, _("Give a valid end date."))
    return redirect("members:institution_detail", institution.pk)


# People -----------------------------------------------------------------------------------------

PERSON_SORTS = {
    "name": [dutch("last_name"), dutch("first_name")],
    "institution": [dutch("institution__name"), dutch("last_name")],
    "new": ["-created_at"],
}


@bureau_required
def person_list(request):
    query = request.GET.get("q", "").strip()
    institution_id = request.GET.get("institution", "")
    role = request.GET.get("role", "")
    sort = request.GET.get("sort", "name")
    people = Person.objects.filter(erased_at__isnull=True).select_related("institution")
    if query:
        for word in query.split():
            people = people.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(infix__icontains=word)
                | Q(email__icontains=word)
                | Q(function__icontains=word)
            )
    if institution_id.isdigit():
        people = people.filter(institution_id=int(institution_id))
    if role == "bureau":
        people = people.filter(is_bureau_staff=True)
    elif role == "ambassador":
        people = people.filter(is_ambassador=True)
    elif role == "account":
        people = people.filter(user__isnull=False)
    elif role == "no_account":
        people = people.filter(user__isnull=True)
    people = people.annotate(
        invited=Exists(
            Invitation.objects.open().filter(person=OuterRef("pk"), expires_at__gt=timezone.now())
        )
    ).order_by(*PERSON_SORTS.get(sort, PERSON_SORTS["name"]), "pk")
    page = _page(request, people)
    detail = url_pattern("members:person_detail")  # one reverse for the rows, not one per row
    for person in page:
        person.url = detail.format(person.pk)
    context = {
        "page": page,
        "query": query,
        "institution_id": institution_id,
        "role": role,
        "sort": sort,
        "institutions": Institution.objects.order_by("name").values_list("pk", "name"),
        "roles": [
            ("bureau", _("Bureau staff")),
            ("ambassador", _("Ambassadors")),
            ("account", _("With account")),
            ("no_account", _("Without account")),
        ],
        "sorts": [
            ("name", _("Name")),
            ("institution", _("Institution")),
            ("new", _("Newest first")),
        ],
    }
    return _render_list(request, "members/person_list.html", context)


@bureau_required
def person_detail(request, pk: int):
    person = get_object_or_404(
        Person.objects.select_related("institution", "user"), pk=pk, erased_at__isnull=True
    )
    invitation = person.invitations.open().first()
    return render(
        request,
        "members/person_detail.html",
        {"person": person, "invitation": invitation, "invite_form": InvitationForm()},
    )


@bureau_required
def person_edit(request, pk: int | None = None):
    person = get_object_or_404(Person, pk=pk, erased_at__isnull=True) if pk else None
    initial = {}
    if person is None and request.GET.get("institution", "").isdigit():
        initial["institution"] = int(request.GET["institution"])
    form = PersonForm(request.POST or None, instance=person, initial=initial)
    if request.method == "POST" and form.is_valid():
        person = services.save_person(form, by=person_of(request))
        messages.success(request, _("%(name)s is saved.") % {"name": person.full_name})
        return redirect("members:person_detail", person.pk)
    return render(request, "members/person_form.html", {"form": form, "person": person})


@bureau_required
@require_POST
def person_invite(request, pk: int):
    person = get_object_or_404(Person, pk=pk, erased_at__isnull=True)
    if person.user_id:
        messages.info(request, _("%(name)s already has an account.") % {"name": person.full_name})
        return redirect("members:person_detail", person.pk)
    form = InvitationForm(request.POST)
    message = form.cleaned_data["message"] if form.is_valid() else ""
    services.invite(person, invited_by=person_of(request), message=message)
    messages.success(
        request,
        _("An invitation is on its way to %(email)s. The link works once and for %(days)s days.")
        % {"email": person.email, "days": Invitation.VALID_FOR_DAYS},
    )
    return redirect("members:person_detail", person.pk)


# Invitations (the invited person, not logged in) -------------------------------------------------


def accept_invitation(request, token: str):
    try:
        invitation = services.check_invitation(token)
    except services.InvitationError as error:
        return render(
            request,
            "members/invitation_invalid.html",
            {"error": error, "token": token},
            status=410 if error.invitation else 404,
        )
    if request.user.is_authenticated:
        logout(request)
    form = AcceptInvitationForm(request.POST or None, person=invitation.person)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invitation(token, password=form.cleaned_data["password1"])
        except services.InvitationError as error:
            return render(
                request,
                "members/invitation_invalid.html",
                {"error": error, "token": token},
                status=410,
            )
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Your account is ready and you are logged in."))
        return redirect("home")
    return render(
        request, "members/invitation_accept.html", {"invitation": invitation, "form": form}
    )


@require_POST
def request_new_invitation(request, token: str):
    invitation = (
        Invitation.objects.select_related("person")
        .filter(token_hash=services.hash_token(token))
        .first()
    )
    if invitation is None:
        raise Http404
    if invitation.person.user_id:
        messages.info(request, _("You already have an account: log in, or reset your password."))
        return redirect("account_login")
    services.request_new_invitation(invitation)
    return render(request, "members/invitation_requested.html", {"email": invitation.person.email})


# My account -------------------------------------------------------------------------------------


@login_required
def my_account(request):
    person = person_of(request)
    form = mail_form = None
    if person is not None:
        posted_mail = request.method == "POST" and request.POST.get("form") == "mail"
        mail_form = MailPreferencesForm(
            request.POST if posted_mail else None,
            current=notify.preferences(person),
            person=person,
        )
        if posted_mail and mail_form.is_valid():
            notify.set_preferences(person, mail_form.cleaned_data, by=person)
            messages.success(request, _("Your choices for e-mail are saved."))
            return redirect(reverse("members:my_account") + "#berichten")
        form = MyDetailsForm(
            None if posted_mail else (request.POST or None),
            instance=person,
            initial={"language": request.user.language},
        )
        if request.method == "POST" and form.is_valid():
            form.save()
            language = form.cleaned_data["language"]
            if language != request.user.language:
                request.user.language = language
                request.user.save(update_fields=["language"])
            translation.activate(language)
            messages.success(request, _("Your details are saved."))
            response = redirect("members:my_account")
            response.set_cookie(
                "django_language",
                language,
                max_age=365 * 24 * 3600,
                samesite="Lax",
                secure=request.is_secure(),
            )
            return response
    return render(
        request,
        "members/my_account.html",
        {
            "person": person,
            "form": form,
            "mail_form": mail_form,
            "mandatory_kinds": [kind for kind in notify.KINDS.values() if kind.mandatory],
            "erase_form": EraseForm(user=request.user),
        },
    )


@csrf_exempt  # the signed link is the authority; RFC 8058 mail programs post without a cookie
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """One-click unsubscribe from one kind of message, without logging in: the link in every
    optional mail and its List-Unsubscribe header. GET asks (a link checker must not
    unsubscribe anyone), POST does it."""
    try:
        person_id, kind = notify.read_unsubscribe_token(token)
    except BadSignature:
        raise Http404 from None
    person = get_object_or_404(Person, pk=person_id, erased_at__isnull=True)
    done = request.method == "POST"
    if done:
        notify.set_preferences(person, {kind: False}, by=person)
    return render(
        request,
        "members/unsubscribe.html",
        {"kind": notify.KINDS[kind], "done": done, "token": token},
    )


@login_required
def confirm_factor_pending(request):
    """An authenticator app of an account with bureau rights waits for its confirmation from
    the mailbox (members.second_factor): say so, and send the link again on request."""
    from .models import has_second_factor, has_unconfirmed_second_factor

    if has_second_factor(request.user.pk) or not has_unconfirmed_second_factor(request.user.pk):
        return redirect("home")
    if request.method == "POST":
        if second_factor.ask_to_confirm(request, request.user):
            messages.success(request, _("We have sent the link again."))
        return redirect("members:confirm_factor_pending")
    return render(request, "members/confirm_factor_pending.html", {"email": request.user.email})


@require_http_methods(["GET", "HEAD", "POST"])
def confirm_factor(request, token: str):
    """The link from the mailbox. A GET asks (mail scanners open links), a POST confirms."""
    try:
        authenticator = second_factor.authenticator_of(token)
        if request.method == "POST":
            second_factor.confirm(token)
    except second_factor.ConfirmationError as error:
        if error.reason == "unknown":
            raise Http404 from None
        return render(request, "members/confirm_factor_invalid.html", status=410)
    if request.method == "POST":
        messages.success(
            request, _("Your second factor is confirmed: your bureau rights work from now on.")
        )
        return redirect("home")
    return render(
        request,
        "members/confirm_factor.html",
        {"token": token, "email": authenticator.user.email},
    )


@login_required
def my_data(request):
    person = person_of(request)
    if person is None:
        raise Http404
    data = services.export_person_data(person)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="mijn-gegevens-kwaliteitsnetwerk.json"'
    return response


@login_required
@require_POST
def erase_me(request):
    person = person_of(request)
    if person is None:
        raise Http404
    form = EraseForm(request.POST, user=request.user)
    if not form.is_valid():
        details = MyDetailsForm(instance=person, initial={"language": request.user.language})
        return render(
            request,
            "members/my_account.html",
            {"person": person, "form": details, "erase_form": form},
            status=400,
        )
    logout(request)
    services.erase_person(person, by=person)
    messages.success(request, _("Your personal data has been erased and your account removed."))
    return redirect("account_login")


# Retention (AVG) --------------------------------------------------------------------------------

RETENTION_LIST = 100


@bureau_required
def retention_overview(request):
    """Who is due for anonymisation now (the daily task does it) and on the coming 1 September,
    longest inactive first; the bureau sets the period and postpones one with a reason."""
    form = RetentionForm(
        request.POST or None, initial={"school_years": retention.policy().school_years}
    )
    if request.method == "POST" and form.is_valid():
        services.set_retention(form.cleaned_data["school_years"], by=person_of(request))
        messages.success(request, _("The retention period is saved."))
        return redirect("members:retention")
    due_now = list(retention.due().select_related("institution")[:RETENTION_LIST])
    due_next, next_day = retention.due_next()
    context = {
        "form": form,
        "due_now": due_now,
        "due_next": list(due_next.select_related("institution")[:RETENTION_LIST]),
        "next_day": next_day,
        "postpone_form": PostponeForm(),
        "holds": RetentionHold.objects.filter(until__gte=timezone.localdate())
        .select_related("person", "by")
        .order_by("until"),
    }
    return render(request, "members/retention.html", context)


@bureau_required
@require_POST
def retention_postpone(request, pk: int):
    person = get_object_or_404(Person, pk=pk, erased_at__isnull=True)
    form = PostponeForm(request.POST)
    if form.is_valid():
        services.postpone_erasure(person, by=person_of(request), **form.cleaned_data)
        messages.success(
            request,
            _("The data of %(name)s are kept until %(date)s.")
            % {"name": person.full_name, "date": form.cleaned_data["until"].strftime("%d-%m-%Y")},
        )
    else:
        messages.error(
            request,
            _("Not postponed: %(errors)s")
            % {"errors": " ".join(m for errors in form.errors.values() for m in errors)},
        )
    return redirect("members:retention")


# Import and export -------------------------------------------------------------------------------

SESSION_KEY = "members_import"


def _kind_or_404(kind: str) -> str:
    if kind not in imports.COLUMNS:
        raise Http404
    return kind


@bureau_required
def import_csv(request, kind: str):
    kind = _kind_or_404(kind)
    context = {
        "kind": kind,
        "columns": imports.COLUMNS[kind],
        "required": sorted(imports.REQUIRED[kind]),
    }
    if request.method == "POST" and "confirm" in request.POST:
        stored = request.session.get(SESSION_KEY) or {}
        if stored.get("kind") != kind:
            messages.error(request, _("Upload the file again: the preview has expired."))
            return redirect("members:import", kind)
        try:
            counts = imports.apply_rows(stored["rows"], kind, by=person_of(request))
        except imports.ImportFileError as error:
            results, _forms = imports.check_rows(stored["rows"], kind)
            return render(
                request,
                "members/import.html",
                {**context, "results": results, "file_error": str(error)},
                status=400,
            )
        del request.session[SESSION_KEY]
        messages.success(
            request,
            _("Import done: %(new)s new, %(update)s changed, %(unchanged)s unchanged.") % counts,
        )
        return redirect(
            "members:institution_list" if kind == "institutions" else "members:person_list"
        )
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            return render(
                request,
                "members/import.html",
                {**context, "file_error": _("Choose a CSV file.")},
                status=400,
            )
        try:
            rows = imports.read_rows(upload.read(imports.MAX_BYTES + 1), kind)
        except imports.ImportFileError as error:
            return render(
                request, "members/import.html", {**context, "file_error": str(error)}, status=400
            )
        results, _forms = imports.check_rows(rows, kind)
        has_errors = any(r.errors for r in results)
        if has_errors:
            request.session.pop(SESSION_KEY, None)
        else:
            request.session[SESSION_KEY] = {"kind": kind, "rows": rows}
        context.update(results=results, has_errors=has_errors, filename=upload.name)
        return render(request, "members/import.html", context, status=400 if has_errors else 200)
    return render(request, "members/import.html", context)


@bureau_required
def export_csv(request, kind: str):
    kind = _kind_or_404(kind)
    name = "instellingen" if kind == "institutions" else "personen"
    return csv_response(f"{name}-{timezone.localdate():%Y-%m-%d}.csv", imports.export_rows(kind))


# The bureau's outbox -----------------------------------------------------------------------------

OUTBOX_PAGE = 25  # as the other long lists (people, registrations)


@bureau_required
def outbox(request):
    """Every message of the application: what went out, to whom, when; what failed and why;
    what waits for another attempt. Filter by status, kind and recipient; send one again."""
    form = OutboxFilterForm(request.GET or None)
    # The people of the page's rows in a query of their own: joined in, the planner hashes all
    # people for any page past the first few (50 ms instead of 15 on the ten-fold data).
    rows = Notification.objects.prefetch_related("person").order_by("-created_at", "-pk")
    status = kind = q = ""
    if form.is_valid():
        status, kind = form.cleaned_data["status"], form.cleaned_data["kind"]
        if status:
            rows = rows.filter(status=status)
        if kind:
            rows = rows.filter(kind=kind)
        if q := form.cleaned_data["q"].strip():
            rows = rows.filter(
                Q(person__email__icontains=q)
                | Q(person__last_name__icontains=q)
                | Q(person__first_name__icontains=q)
            )
    counts = dict(
        Notification.objects.values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    paginator = Paginator(rows.defer("body", "html", "attachment"), OUTBOX_PAGE)
    if not (kind or q):
        # The counts per status already hold the number of rows: a second pass over the whole
        # outbox (its rows are wide, with the mails in them) only to count them again was a
        # third of the page's database time.
        paginator.count = counts.get(status, 0) if status else sum(counts.values())
    page = paginator.get_page(request.GET.get("page"))
    # One URL pattern for the rows (a reverse per row was a fifth of the page), and the labels
    # once (get_status_display translates every status for every row).
    resend = url_pattern("members:outbox_resend")
    statuses = {value: str(label) for value, label in Notification.Status.choices}
    for row in page:
        row.kind_spec = notify.KINDS.get(row.kind)
        row.resend_url = resend.format(row.pk)
        row.status_label = statuses.get(row.status, row.status)
    return render(
        request,
        "members/outbox.html",
        {
            "form": form,
            "page": page,
            "here": request.get_full_path(),
            "counts": [
                (status, label, counts.get(status, 0))
                for status, label in Notification.Status.choices
            ],
        },
    )


@bureau_required
@require_POST
def outbox_resend(request, pk: int):
    notification = get_object_or_404(Notification.objects.select_related("person"), pk=pk)
    try:
        notify.resend(notification, by=person_of(request))
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("The message to %(email)s is queued to go out again.")
            % {"email": notification.person.email},
        )
    return redirect(safe_next(request, request.POST.get("next"), "members:outbox"))
