import datetime as dt
from dataclasses import astuple, dataclass

from django.db import models
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from kwaliteitsnetwerk.caching import versions_of, versions_through
from members.activity import scope_of
from members.limits import LONG, SHORT, length_checks
from members.models import Action, Institution, Person


def school_year_of(day) -> str:
    """The school year (September to August) a date falls in, written as 2025-2026."""
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}-{first + 1}"


class Theme(models.Model):
    """A theme of the network, from the list the bureau keeps: one spelling for everyone, so
    filters and the health overview count "Data" once, not "data" and "Data"."""

    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Moved on by every logged change of the theme (members.activity.log): the key of cached
    # fragments that show themes (kwaliteitsnetwerk.caching).
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")
        constraints = [
            models.UniqueConstraint(models.functions.Lower("name"), name="theme_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Rights:
    """A person's rights in one coalition (Coalition.rights_of)."""

    manage: bool
    see_workspace: bool
    post_input: bool
    post_outputs: bool


class CoalitionQuerySet(models.QuerySet):
    def led_by(self, person: Person | None):
        if person is None:
            return self.none()
        return self.filter(leads=person)

    def running(self):
        return self.filter(status__in=RUNNING_STATUSES)

    def taken_part_in_by(self, person: Person | None):
        """ "My coalitions": those the person takes part in (taking_part: leads or has an
        active place in a ring)."""
        if person is None:
            return self.none()
        return self.filter(taking_part(person=person, coalition=models.OuterRef("pk")))

    def organising_for(self, person: Person | None):
        """The coalitions whose meetings this person may plan and change as a lead: those they
        lead that are running (a closed or prepared coalition meets through the bureau)."""
        return self.led_by(person).running()

    def manageable_by(self, person: Person | None):
        """The coalitions this person may change: all for the bureau, else those they lead."""
        if person is not None and person.has_bureau_rights:
            return self
        return self.led_by(person)


class Coalition(models.Model):
    class Status(models.TextChoices):
        PREPARING = "voorbereiding", _("In preparation")
        RECRUITING = "werving", _("Recruiting")
        ACTIVE = "actief", _("Active")
        EVALUATING = "evaluatie", _("Evaluating")
        CLOSED = "afgerond", _("Closed")

    # The lifecycle moves forward one step at a time.
    TRANSITIONS = {
        Status.PREPARING: [Status.RECRUITING],
        Status.RECRUITING: [Status.ACTIVE],
        Status.ACTIVE: [Status.EVALUATING],
        Status.EVALUATING: [Status.CLOSED],
        Status.CLOSED: [],
    }
    MAX_TERM = dt.timedelta(days=366)  # at most one school year, unless the bureau extends it
    ERASE_KEEP = "the coalition's texts are the network's; leads and contact point at Person"

    name = models.CharField(_("name"), max_length=200)
    theme = models.ForeignKey(
        Theme, on_delete=models.PROTECT, related_name="coalitions", verbose_name=_("theme")
    )
    assignment = models.TextField(_("assignment"), max_length=LONG)
    goal = models.TextField(_("goal"), blank=True, max_length=SHORT)
    intended_output = models.TextField(_("intended output"), blank=True, max_length=SHORT)
    needs = models.TextField(_("what it needs"), blank=True, max_length=SHORT)
    school_year = models.CharField(
        _("school year"), max_length=9, help_text=_("For example 2026-2027")
    )
    start = models.DateField(_("start"))
    planned_end = models.DateField(_("planned end"))
    extension_reason = models.TextField(
        _("reason for a longer term"),
        blank=True,
        help_text=_("Only the bureau extends a coalition beyond one school year, with a reason."),
        max_length=SHORT,
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PREPARING
    )
    leads = models.ManyToManyField(
        Person, related_name="led_coalitions", blank=True, verbose_name=_("leads")
    )
    bureau_contact = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supported_coalitions",
        verbose_name=_("bureau contact"),
    )
    continues = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="continued_by",
        verbose_name=_("continues"),
        help_text=_("The coalition on this theme that this one builds on (Data 2.0 → Data 3.0)."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    # Moved on by every logged change of the coalition, its rings, memberships, input and
    # outputs (members.activity.log, in the change's transaction): the key of its cached
    # fragments (kwaliteitsnetwerk.caching).
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = CoalitionQuerySet.as_manager()

    class Meta:
        ordering = ["-school_year", "name"]
        verbose_name = _("coalition")
        verbose_name_plural = _("coalitions")
        constraints = [
            *length_checks(
                "coalition",
                assignment=LONG,
                goal=SHORT,
                intended_output=SHORT,
                needs=SHORT,
                extension_reason=SHORT,
            ),
            models.UniqueConstraint(
                fields=["name", "school_year"], name="coalition_name_unique_per_year"
            ),
            models.CheckConstraint(
                condition=Q(planned_end__gt=models.F("start")), name="coalition_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(school_year__regex=r"^[0-9]{4}-[0-9]{4}$"),
                name="coalition_school_year_format",
            ),
            models.CheckConstraint(
                condition=~Q(continues=F("pk")), name="coalition_does_not_continue_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.school_year})"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED

    @property
    def is_running(self) -> bool:
        """Recruiting, active or evaluating (CoalitionQuerySet.running)."""
        return self.status in RUNNING_STATUSES

    @staticmethod
    def directory_versions() -> str:
        """What the directory shows moves one of these (kwaliteitsnetwerk.caching): every
        coalition's version (itself, its rings and members), the themes', and those of the
        people leading or taking part (their names, institutions)."""
        return ".".join(
            [
                versions_of(Coalition.objects.all()),
                versions_of(Theme.objects.all()),
                str(
                    RingMembership.objects.active().aggregate(total=Sum("person__version"))["total"]
                    or 0
                ),
                str(
                    Coalition.leads.through.objects.aggregate(total=Sum("person__version"))["total"]
                    or 0
                ),
            ]
        )

    @cached_property
    def versions(self) -> str:
        """What its cached fragments show moves one of these (kwaliteitsnetwerk.caching): the
        coalition's version (itself, its rings, memberships, input and outputs) and those of
        the people on its pages (members, people asking or invited, leads, the bureau contact,
        authors of input and who did what in it: their names, institutions and addresses)."""
        people = versions_through(
            self,
            members=(self.memberships.open(), "person__version"),
            leads=(Coalition.leads.through.objects.filter(coalition=self), "person__version"),
            contact=(Coalition.objects.filter(pk=self.pk), "bureau_contact__version"),
            authors=(self.inputs.all(), "author__version"),
            replies=(self.inputs.all(), "replied_by__version"),
            actors=(Action.objects.within(scope_of(self)), "actor__version"),
        )
        return f"{self.pk}.{self.version}.{people}"

    def lead_ids(self) -> set[int]:
        """The leads' ids, read once per object (from a prefetch of `leads` when there is one)."""
        ids = getattr(self, "_lead_ids", None)
        if ids is None:
            if "leads" in getattr(self, "_prefetched_objects_cache", {}):
                ids = {p.pk for p in self.leads.all()}
            else:
                ids = set(self.leads.values_list("pk", flat=True))
            self._lead_ids = ids
        return ids

    def is_led_by(self, person: Person | None) -> bool:
        return person is not None and person.pk in self.lead_ids()

    def is_manageable_by(self, person: Person | None) -> bool:
        """Leads change their own coalition; the bureau every coalition."""
        return person is not None and (person.has_bureau_rights or self.is_led_by(person))

    def rights_of(self, person: Person | None, membership: "RingMembership | None") -> "Rights":
        """What this person may do here: leads and the bureau everything, a member what the
        rules of the ring they are active in grant (`membership`: their open one, or None)."""
        manage = self.is_manageable_by(person)

        def through(right: str) -> bool:
            return manage or bool(membership and membership.grants(right))

        return Rights(
            manage=manage,
            see_workspace=through("can_see_workspace"),
            post_input=through("can_post_input") and not self.is_closed,
            post_outputs=through("can_post_outputs"),
        )

    def place_of(self, person: Person | None, membership: "RingMembership | None") -> tuple:
        """Where this person stands here, as the key of the fragments that differ per person
        (kwaliteitsnetwerk.caching): their own place (ring, state, a move asked), their rights
        (rights_of), whether they are logged in and their bureau rights: all that rights_of and
        Output.objects.visible_to read (bureau, lead, the ring they are active in), so two
        people with the same place see the same head, rings, input and outputs."""
        return (
            membership.ring_id if membership else "",
            membership.status if membership else "",
            membership.requested_ring_id if membership else "",
            astuple(self.rights_of(person, membership)),
            person is not None,
            bool(person and person.has_bureau_rights),
        )

    def allowed_transitions(self) -> list[str]:
        return list(self.TRANSITIONS[self.Status(self.status)])

    @property
    def next_status(self):
        """The one status this coalition may move to next (or None when closed)."""
        allowed = self.allowed_transitions()
        return self.Status(allowed[0]) if allowed else None

    @classmethod
    def term_too_long(cls, start, planned_end) -> bool:
        """A term longer than one school year, which only the bureau grants, with a reason
        (the coalition form asks it of the dates typed, exceeds_term of a coalition)."""
        return planned_end - start > cls.MAX_TERM

    def exceeds_term(self) -> bool:
        return self.term_too_long(self.start, self.planned_end)

    @property
    def is_recruiting(self) -> bool:
        return self.status == self.Status.RECRUITING

    @property
    def is_evaluating(self) -> bool:
        return self.status == self.Status.EVALUATING

    def may_evaluate(self, person: Person | None, membership: "RingMembership | None") -> bool:
        """The evaluation is written in "evaluatie" by the leads and the Kern (the bureau may
        help); everyone in the network reads it."""
        if person is None or not self.is_evaluating:
            return False
        return (
            person.has_bureau_rights
            or self.is_led_by(person)
            or bool(membership and membership.is_active and membership.ring.is_core)
        )

    def line(self) -> list["Coalition"]:
        """The coalitions this one continues, oldest first (Data → Data 2.0 → this): one query
        for the ids (a recursive walk up `continues`), one for the coalitions."""
        from django.db import connection

        table = connection.ops.quote_name(self._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH RECURSIVE up(id, continues_id, depth) AS (
                    SELECT id, continues_id, 0 FROM {table} WHERE id = %s
                    UNION ALL
                    SELECT c.id, c.continues_id, up.depth + 1 FROM {table} c
                    JOIN up ON c.id = up.continues_id WHERE up.depth < %s
                ) SELECT id, depth FROM up WHERE depth > 0""",  # noqa: S608 - a table name
                [self.pk, self.LINE_DEPTH],
            )
            depth = dict(cursor.fetchall())
        found = Coalition.objects.filter(pk__in=depth).select_related("theme")
        return sorted(found, key=lambda c: -depth[c.pk])

    LINE_DEPTH = 20  # a guard against a loop written around the service


RUNNING_STATUSES = [
    Coalition.Status.RECRUITING,
    Coalition.Status.ACTIVE,
    Coalition.Status.EVALUATING,
]


@dataclass(frozen=True)
class RingOffer:
    """What the coalition page offers one person for one ring (Ring.offer_to): at most one is
    true; none when there is nothing to offer."""

    join: bool = False  # join an open ring at once
    ask: bool = False  # ask to join an on-request ring
    move: bool = False  # an active member moves to this open ring at once
    ask_move: bool = False  # an active member asks to move to this on-request ring
    full: bool = False  # an open ring they could join or move to, but it is full
    by_invitation: bool = False  # only the leads invite (for who has no place here yet)


class RingQuerySet(models.QuerySet):
    def with_counts(self):
        """Annotate active_count, which is_full and below_minimum then read without a query."""
        return self.annotate(
            active_count=Count(
                "memberships", filter=Q(memberships__status=RingMembership.Status.ACTIVE)
            )
        )

    def core(self):
        """The core ring of each coalition (see Ring.is_core)."""
        return self.filter(order=Ring.CORE_ORDER)

    # Ring.below_minimum and Ring.is_full as conditions on rings annotated with_counts().
    BELOW_MINIMUM = Q(minimum_size__isnull=False, active_count__lt=F("minimum_size"))
    FULL = Q(capacity__isnull=False, active_count__gte=F("capacity"))

    def below_minimum(self):
        """Ring.below_minimum, asked in the query."""
        return self.with_counts().filter(self.BELOW_MINIMUM)

    def full(self):
        """Ring.is_full (no room_left), asked in the query."""
        return self.with_counts().filter(self.FULL)


class Ring(models.Model):
    """A ring of involvement with its own rules: how to join, how many, what is expected."""

    CORE_ORDER = 1  # the rings are ordered from the core outward

    class JoinPolicy(models.TextChoices):
        OPEN = "open", _("Open: join directly")
        REQUEST = "verzoek", _("On request: a lead decides")
        INVITATION = "uitnodiging", _("By invitation only")

    class Level(models.TextChoices):
        DECIDE = "meebepalen", _("Co-decide (meebepalen)")
        DO = "meedoen", _("Take part (meedoen)")
        THINK = "meedenken", _("Think along (meedenken)")
        KNOW = "weten", _("Be informed (weten)")

    coalition = models.ForeignKey(
        Coalition, on_delete=models.CASCADE, related_name="rings", verbose_name=_("coalition")
    )
    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveSmallIntegerField(
        _("order"), help_text=_("1 is the core; higher numbers lie further out.")
    )
    level = models.CharField(
        _("level of involvement"), max_length=20, choices=Level.choices, default=Level.THINK
    )
    join_policy = models.CharField(
        _("how to join"), max_length=20, choices=JoinPolicy.choices, default=JoinPolicy.OPEN
    )
    capacity = models.PositiveIntegerField(
        _("maximum size"), null=True, blank=True, help_text=_("Empty: no maximum.")
    )
    minimum_size = models.PositiveIntegerField(_("minimum size"), null=True, blank=True)
    sessions_expected = models.PositiveSmallIntegerField(
        _("sessions expected per school year"), null=True, blank=True
    )
    can_see_workspace = models.BooleanField(_("sees the coalition workspace"), default=True)
    can_post_input = models.BooleanField(_("may bring in input"), default=True)
    can_post_outputs = models.BooleanField(_("may add outputs"), default=False)
    agreements_process = models.TextField(
        _("agreements on the process"), blank=True, max_length=LONG
    )
    agreements_behaviour = models.TextField(
        _("agreements on behaviour"), blank=True, max_length=LONG
    )

    objects = RingQuerySet.as_manager()

    class Meta:
        ordering = ["coalition", "order"]
        verbose_name = _("ring")
        verbose_name_plural = _("rings")
        constraints = [
            *length_checks("ring", agreements_process=LONG, agreements_behaviour=LONG),
            models.UniqueConstraint(
                fields=["coalition", "order"], name="ring_order_unique_per_coalition"
            ),
            models.UniqueConstraint(
                fields=["coalition", "name"], name="ring_name_unique_per_coalition"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=1),
                name="ring_capacity_positive",
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True)
                | Q(minimum_size__isnull=True)
                | Q(minimum_size__lte=models.F("capacity")),
                name="ring_minimum_within_capacity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.coalition.name})"

    @property
    def is_core(self) -> bool:
        """The one rule of "the core": the innermost ring (order 1) of a coalition."""
        return self.order == self.CORE_ORDER

    @property
    def joins_directly(self) -> bool:
        return self.join_policy == self.JoinPolicy.OPEN

    @property
    def joins_on_request(self) -> bool:
        return self.join_policy == self.JoinPolicy.REQUEST

    @property
    def member_count(self) -> int:
        """Its active members: annotated by with_counts(), else counted now (under the ring's
        lock in the services)."""
        count = getattr(self, "active_count", None)
        if count is None:
            count = self.memberships.active().count()
        return count

    def room_left(self) -> int | None:
        """THE room in a ring: the places still free (0 when full), None without a maximum.
        Joining, accepting, moving, the launch and the ring form all ask it."""
        if self.capacity is None:
            return None
        return max(0, self.capacity - self.member_count)

    @property
    def is_full(self) -> bool:
        return self.room_left() == 0

    @property
    def below_minimum(self) -> bool:
        return self.minimum_size is not None and self.member_count < self.minimum_size

    def offer_to(self, membership: "RingMembership | None") -> RingOffer:
        """What a person with this open membership in the coalition (or None) may do with this
        ring, as the services hold it (join_ring, request_move): nothing in a closed
        coalition; without a place, join an open ring with room, ask an on-request one, or
        wait for an invitation; an active member not already asking to move may move to
        another ring in the same way (an invitation-only ring offers them nothing)."""
        if self.coalition.is_closed:
            return RingOffer()
        if membership is None:
            newcomer = True
        elif membership.is_active and not membership.asks_to_move:
            if membership.ring_id == self.pk:
                return RingOffer()
            newcomer = False
        else:
            return RingOffer()
        if self.joins_directly:
            if self.is_full:
                return RingOffer(full=True)
            return RingOffer(join=newcomer, move=not newcomer)
        if self.joins_on_request:
            return RingOffer(ask=newcomer, ask_move=not newcomer)
        return RingOffer(by_invitation=newcomer)


class RingMembershipQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=RingMembership.OPEN_STATUSES)

    def active(self):
        return self.filter(status=RingMembership.Status.ACTIVE)

    def waiting(self):
        """What waits for the leads: a request to join a ring, or an active member asking to
        move to another (RingMembership.asks_to_move)."""
        return self.filter(
            Q(status=RingMembership.Status.REQUESTED)
            | Q(status=RingMembership.Status.ACTIVE, requested_ring__isnull=False)
        )


class RingMembership(models.Model):
    """A person in a ring. Never overwritten: a move or an end closes this row and, for a move,
    opens a new one, so the history of who was where, and who changed it, stays."""

    class Status(models.TextChoices):
        REQUESTED = "aangevraagd", _("Requested")
        INVITED = "uitgenodigd", _("Invited")
        ACTIVE = "actief", _("Active")
        ENDED = "beeindigd", _("Ended")

    class EndReason(models.TextChoices):
        LEFT = "vertrokken", _("Left")
        REMOVED = "beeindigd", _("Ended by a lead")
        MOVED = "verplaatst", _("Moved to another ring")
        DECLINED = "afgewezen", _("Request declined")
        INVITATION_DECLINED = "uitnodiging_afgeslagen", _("Invitation declined")
        WITHDRAWN = "ingetrokken", _("Withdrawn")

    OPEN_STATUSES = [Status.REQUESTED, Status.INVITED, Status.ACTIVE]
    ERASE_FIELDS = ("motivation", "response")  # see members.services.erase_person

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="ring_memberships", verbose_name=_("person")
    )
    ring = models.ForeignKey(
        Ring, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("ring")
    )
    # The ring's coalition, kept on the row so the database can hold "one open membership per
    # person per coalition" (services always set it from the ring).
    coalition = models.ForeignKey(
        Coalition, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("coalition")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    motivation = models.TextField(_("motivation"), blank=True, max_length=SHORT)
    response = models.TextField(_("message from the lead"), blank=True, max_length=SHORT)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(
        _("reason for ending"), max_length=30, choices=EndReason.choices, blank=True
    )
    changed_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    # An active member may ask to move to another ring of the coalition while staying where they
    # are: the lead's accept moves them (coalitions.services.accept_request), a refusal clears it.
    requested_ring = models.ForeignKey(
        "Ring",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="move_requests",
        verbose_name=_("asks to move to"),
    )
    requested_at = models.DateTimeField(_("asked to move"), null=True, blank=True)
    chosen = models.BooleanField(
        _("chosen"),
        default=False,
        help_text=_("A candidate the leads chose during recruitment: placed at the launch."),
    )

    objects = RingMembershipQuerySet.as_manager()

    class Meta:
        ordering = ["ring__order", "person__last_name"]
        verbose_name = _("ring membership")
        verbose_name_plural = _("ring memberships")
        constraints = [
            *length_checks("ring_membership", motivation=SHORT, response=SHORT),
            models.UniqueConstraint(
                fields=["person", "coalition"],
                condition=Q(status__in=["aangevraagd", "uitgenodigd", "actief"]),
                name="membership_one_open_per_person_per_coalition",
            ),
            models.CheckConstraint(
                condition=Q(status="beeindigd", ended_at__isnull=False)
                | (~Q(status="beeindigd") & Q(ended_at__isnull=True)),
                name="membership_ended_has_end_date",
            ),
            models.CheckConstraint(
                condition=Q(requested_ring__isnull=True) | Q(status="actief"),
                name="membership_move_request_only_when_active",
            ),
        ]
        indexes = [models.Index(fields=["ring", "status"], name="membership_ring_status")]

    def __str__(self) -> str:
        return f"{self.person} – {self.ring.name} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_requested(self) -> bool:
        return self.status == self.Status.REQUESTED

    @property
    def is_invited(self) -> bool:
        return self.status == self.Status.INVITED

    @property
    def asks_to_move(self) -> bool:
        return self.is_active and self.requested_ring_id is not None

    @property
    def is_kern_candidate(self) -> bool:
        """A request for the Kern while the coalition recruits: the leads choose among these on
        the candidates page (by institution) and the launch places them — not one by one on the
        ring board."""
        return (
            self.status == self.Status.REQUESTED
            and self.ring.is_core
            and self.ring.coalition.is_recruiting
        )

    def grants(self, right: str) -> bool:
        """A ring right ("can_see_workspace", "can_post_input", "can_post_outputs") through this
        membership: only while active, and only as the ring's rules say."""
        return self.is_active and bool(getattr(self.ring, right))


def taking_part_rows(**where) -> tuple[models.QuerySet, models.QuerySet]:
    """THE rule of taking part in a coalition, as the rows that make it: an active place in
    one of its rings, or leading it. A request or an invitation is not taking part yet (it
    gives no rights, fills no place and counts in no matrix); "my coalitions", the
    participation matrix, the network picture, the institutions in no coalition and the
    coalitions on a person's page all read this. `where`: lookups both rows have (`person`,
    `coalition`, `person__institution`, ... as values, querysets or OuterRefs)."""
    return (
        RingMembership.objects.active().filter(**where),
        Coalition.leads.through.objects.filter(**where),
    )


def taking_part(**where) -> Q:
    """taking_part_rows as a condition for a query (EXISTS one or the other)."""
    places, leads = taking_part_rows(**where)
    return Q(models.Exists(places)) | Q(models.Exists(leads))


def people_taking_part_in(coalition: "Coalition") -> models.QuerySet:
    """Person.objects.taking_part_in(coalition): members may not import coalitions, so the
    rule is asked from here."""
    return Person.objects.filter(taking_part(person=models.OuterRef("pk"), coalition=coalition))


class Input(models.Model):
    """Inbreng: a question, idea or case someone in a ring brings in; leads triage it."""

    # Erasing the author erases their words (see members.services.erase_person).
    ERASE_OWNER = "author"
    ERASE_FIELDS = ("title", "body")

    class Kind(models.TextChoices):
        QUESTION = "vraag", _("Question")
        IDEA = "idee", _("Idea")
        CASE = "casus", _("Case")

    class Status(models.TextChoices):
        NEW = "nieuw", _("New")
        TAKEN_UP = "opgepakt", _("Taken up")
        PARKED = "geparkeerd", _("Parked")
        ANSWERED = "beantwoord", _("Answered")

    coalition = models.ForeignKey(
        Coalition, on_delete=models.CASCADE, related_name="inputs", verbose_name=_("coalition")
    )
    author = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        related_name="inputs",
        verbose_name=_("brought in by"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.QUESTION)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("description"), max_length=LONG)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.NEW
    )
    reply = models.TextField(_("reply"), blank=True, max_length=SHORT)
    replied_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("replied by"),
    )
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        constraints = [*length_checks("input", body=LONG, reply=SHORT)]
        ordering = ["-created_at"]
        verbose_name = _("input")
        verbose_name_plural = _("input")

    def __str__(self) -> str:
        return self.title

    @property
    def is_new(self) -> bool:
        return self.status == self.Status.NEW


def output_upload_to(instance, filename: str) -> str:
    return f"opbrengsten/{instance.coalition_id}/{timezone.now():%Y%m}/{filename}"


class OutputQuerySet(models.QuerySet):
    def public(self):
        """What anyone may read, also without logging in."""
        return self.filter(visibility=Output.Visibility.PUBLIC)

    def for_network(self):
        """What everyone logged in may read (network and public): the library's harvest, the
        line of a theme's coalitions, the outputs a conference can present."""
        return self.filter(visibility__in=Output.FOR_NETWORK)

    def visible_to(self, person: Person | None):
        """THE rule of who reads an output: public always, network when logged in, coalition
        and ring outputs for those inside (a ring's outputs also for the rings inside it) and
        the coalition's leads; every output for the bureau (Person.has_bureau_rights, read
        here: no caller passes it)."""
        if person is None:
            return self.public()
        if person.has_bureau_rights:
            return self
        # EXISTS subqueries, one per way in, each on the output's own row: no joins that
        # multiply the rows, so no DISTINCT (at ten times the network: 31 ms → see bench).
        active = RingMembership.objects.active().filter(person=person)
        leads = Coalition.leads.through.objects.filter(
            coalition_id=models.OuterRef("coalition_id"), person=person
        )
        in_coalition = models.Exists(active.filter(coalition_id=models.OuterRef("coalition_id")))
        inside_ring = models.Exists(
            active.filter(
                ring__coalition_id=models.OuterRef("ring__coalition_id"),
                ring__order__lte=models.OuterRef("ring__order"),
            )
        )
        led = models.Exists(leads)
        return self.filter(
            Q(visibility__in=Output.FOR_NETWORK)
            | (Q(visibility=Output.Visibility.COALITION) & (in_coalition | led))
            | (Q(visibility=Output.Visibility.RING) & (inside_ring | led))
        )


class Output(models.Model):
    """Opbrengst: a product of a coalition, shared with a chosen visibility."""

    ERASE_KEEP = "a product of the coalition, not about the person who added it"

    class Kind(models.TextChoices):
        GUIDE = "handreiking", _("Practical guide")
        TOOLBOX = "toolbox", _("Toolbox")
        POSTER = "praatplaat", _("Discussion poster")
        CHECKLIST = "checklist", _("Checklist")
        INSTRUMENT = "instrument", _("Instrument")
        REPORT = "verslag", _("Report")
        OTHER = "anders", _("Other")

    class Visibility(models.TextChoices):
        RING = "ring", _("This ring (and the rings inside it)")
        COALITION = "coalitie", _("The coalition")
        NETWORK = "netwerk", _("The whole network")
        PUBLIC = "openbaar", _("Public")

    FOR_NETWORK = [Visibility.PUBLIC, Visibility.NETWORK]

    coalition = models.ForeignKey(
        Coalition, on_delete=models.CASCADE, related_name="outputs", verbose_name=_("coalition")
    )
    ring = models.ForeignKey(
        Ring,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outputs",
        verbose_name=_("ring"),
        help_text=_("Only for visibility 'this ring'."),
    )
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.GUIDE)
    description = models.TextField(_("description"), blank=True, max_length=SHORT)
    url = models.URLField(_("link"), blank=True)
    file = models.FileField(_("file"), upload_to=output_upload_to, blank=True)
    visibility = models.CharField(
        _("visible to"), max_length=10, choices=Visibility.choices, default=Visibility.NETWORK
    )
    created_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        related_name="outputs",
        verbose_name=_("added by"),
    )
    created_at = models.DateTimeField(_("added"), default=timezone.now)

    objects = OutputQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("output")
        verbose_name_plural = _("outputs")
        constraints = [
            *length_checks("output", description=SHORT),
            models.CheckConstraint(
                condition=~Q(url="") | ~Q(file=""), name="output_has_link_or_file"
            ),
            models.CheckConstraint(
                condition=~Q(visibility="ring") | Q(ring__isnull=False),
                name="output_ring_visibility_names_ring",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_for_a_ring(self) -> bool:
        return self.visibility == self.Visibility.RING


# The yearly cycle -------------------------------------------------------------------------------


class ThemeRoundQuerySet(models.QuerySet):
    def open_at(self, now):
        return self.filter(opens_at__lte=now, closes_at__gt=now)


class ThemeRound(models.Model):
    """Themaronde: for the coalitions of one school year, members and ambassadors bring in
    themes and support them ("met de voeten stemmen"), between two moments the bureau sets."""

    ERASE_KEEP = "a setting of the network; created_by points at Person"

    school_year = models.CharField(
        _("school year of the coalitions"),
        max_length=9,
        unique=True,
        help_text=_("For example 2027-2028"),
    )
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"))
    votes_per_person = models.PositiveSmallIntegerField(
        _("votes per person"),
        default=3,
        help_text=_("How many proposals one person may support."),
    )
    introduction = models.TextField(_("introduction"), blank=True, max_length=LONG)
    created_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    objects = ThemeRoundQuerySet.as_manager()

    class Meta:
        ordering = ["-school_year"]
        verbose_name = _("theme round")
        verbose_name_plural = _("theme rounds")
        constraints = [
            *length_checks("theme_round", introduction=LONG),
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="round_closes_after_it_opens"
            ),
            models.CheckConstraint(
                condition=Q(votes_per_person__gte=1), name="round_at_least_one_vote"
            ),
            models.CheckConstraint(
                condition=Q(school_year__regex=r"^[0-9]{4}-[0-9]{4}$"),
                name="round_school_year_format",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Theme round %(year)s") % {"year": self.school_year})

    def is_open(self, now=None) -> bool:
        """Proposals, support and comments are taken only while the round is open."""
        now = now or timezone.now()
        return self.opens_at <= now < self.closes_at

    def is_closed(self, now=None) -> bool:
        return (now or timezone.now()) >= self.closes_at

    def is_upcoming(self, now=None) -> bool:
        return (now or timezone.now()) < self.opens_at


class ProposalQuerySet(models.QuerySet):
    def ranked(self):
        """With supporter_count and institution_count (the institutions of the supporters),
        most supported first: a theme carried by many institutions before one carried by one."""
        from members.models import count_of

        supports = Support.objects.filter(proposal=models.OuterRef("pk"))
        institutions = (
            supports.order_by()
            .values("proposal")
            .annotate(n=Count("person__institution", distinct=True))
            .values("n")[:1]
        )
        return self.annotate(
            supporter_count=count_of(supports, "proposal"),
            institution_count=models.functions.Coalesce(
                models.Subquery(institutions, output_field=models.IntegerField()), 0
            ),
        ).order_by("-supporter_count", "-institution_count", "created_at")


class Proposal(models.Model):
    """A theme brought into a round: the question behind it, why now, what output would help."""

    ERASE_KEEP = "a theme of the network; the proposer is a Person, erased there"

    class Status(models.TextChoices):
        OPEN = "ingediend", _("Proposed")
        CHOSEN = "gekozen", _("Chosen")
        DECLINED = "afgewezen", _("Not chosen")

    round = models.ForeignKey(
        ThemeRound, on_delete=models.CASCADE, related_name="proposals", verbose_name=_("round")
    )
    title = models.CharField(_("theme"), max_length=200)
    question = models.TextField(_("the question behind it"), max_length=SHORT)
    why_now = models.TextField(_("why now"), max_length=SHORT)
    desired_output = models.TextField(
        _("what output would help your institution"), max_length=SHORT
    )
    proposed_by = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        related_name="proposals",
        verbose_name=_("proposed by"),
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("institution"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.OPEN
    )
    decision_reason = models.TextField(_("reason"), blank=True, max_length=SHORT)
    decided_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    coalition = models.OneToOneField(
        Coalition,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="proposal",
        verbose_name=_("coalition"),
    )
    created_at = models.DateTimeField(_("proposed"), default=timezone.now, editable=False)

    objects = ProposalQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("theme proposal")
        verbose_name_plural = _("theme proposals")
        constraints = [
            *length_checks(
                "proposal",
                question=SHORT,
                why_now=SHORT,
                desired_output=SHORT,
                decision_reason=SHORT,
            ),
            models.CheckConstraint(
                condition=~Q(status="afgewezen") | ~Q(decision_reason=""),
                name="proposal_declined_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="ingediend") | Q(decided_at__isnull=False),
                name="proposal_decision_has_moment",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def is_chosen(self) -> bool:
        return self.status == self.Status.CHOSEN

    @property
    def is_declined(self) -> bool:
        return self.status == self.Status.DECLINED

    def is_decidable(self, now=None) -> bool:
        """The bureau chooses or declines a proposal once its round closed and the votes are
        counted, and only once (the decision's service holds it, the page offers it by it)."""
        return self.is_open and self.round.is_closed(now)


class Support(models.Model):
    """One person's vote for a proposal: at most one per proposal, a limited number per round
    (ThemeRound.votes_per_person, held by coalitions.services.support under a lock)."""

    ERASE_KEEP = "a count of support; the person is erased in Person"

    proposal = models.ForeignKey(
        Proposal, on_delete=models.CASCADE, related_name="supports", verbose_name=_("proposal")
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="supports", verbose_name=_("person")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("support")
        verbose_name_plural = _("supports")
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "person"], name="support_once_per_person_per_proposal"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} → {self.proposal}"


class ProposalComment(models.Model):
    ERASE_FIELDS = ("body",)  # their words go, as with input (members.services.erase_person)
    ERASE_OWNER = "author"

    proposal = models.ForeignKey(
        Proposal, on_delete=models.CASCADE, related_name="comments", verbose_name=_("proposal")
    )
    author = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        related_name="proposal_comments",
        verbose_name=_("author"),
    )
    body = models.TextField(_("comment"), max_length=SHORT)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [*length_checks("proposal_comment", body=SHORT)]
        ordering = ["created_at", "pk"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")

    def __str__(self) -> str:
        return f"{self.author} – {self.proposal}"


class Interest(models.Model):
    """Someone interested in a coalition before it recruits (a supporter of the theme it came
    from): told when it is made and when recruitment opens."""

    ERASE_DELETE = True  # about the person only

    coalition = models.ForeignKey(
        Coalition, on_delete=models.CASCADE, related_name="interested", verbose_name=_("coalition")
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="interests", verbose_name=_("person")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("interest")
        verbose_name_plural = _("interests")
        constraints = [
            models.UniqueConstraint(fields=["coalition", "person"], name="interest_once_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.person} – {self.coalition}"


class Evaluation(models.Model):
    """What a coalition learned, written in "evaluatie" by its leads and Kern: visible to the
    network and shown in the line of coalitions on its theme."""

    ERASE_KEEP = "the coalition's lessons belong to the network"

    coalition = models.OneToOneField(
        Coalition, on_delete=models.CASCADE, related_name="evaluation", verbose_name=_("coalition")
    )
    delivered = models.TextField(_("what was delivered against the assignment"), max_length=LONG)
    dilemmas = models.TextField(_("dilemmas met"), blank=True, max_length=LONG)
    good_practices = models.TextField(_("good practices"), blank=True, max_length=LONG)
    advice = models.TextField(
        _("what the next coalition on this theme should know"), max_length=LONG
    )
    updated_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        constraints = [
            *length_checks(
                "evaluation", delivered=LONG, dilemmas=LONG, good_practices=LONG, advice=LONG
            )
        ]
        verbose_name = _("evaluation")
        verbose_name_plural = _("evaluations")

    def __str__(self) -> str:
        return str(self.coalition)
