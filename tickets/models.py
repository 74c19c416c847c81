import orjson
from django.conf import settings
from django.db import connection, models
from django.db.models import BooleanField, Exists, F, Func, JSONField, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from accounts.models import Team, User
from dispatchdesk.models import EventType
from dispatchdesk.workflow import (
    assignee_or_supervisor,
    guard,
    has_assignee,
    needs,
    requester_assignee_or_supervisor,
    requester_or_supervisor,
    supervisor,
    worker,
)
from workorders.choices import ACTIVE_STATUSES as ACTIVE_WORK_ORDER_STATUSES

from .choices import ACTIVE_STATUSES, PRIORITY_RANK, TERMINAL_STATUSES, Priority, TicketStatus


def worker_sees(user, team_column: str, *people_columns: str) -> tuple[str, tuple]:
    """How agents see work, as SQL: the row is in one of `user`'s teams, or names `user` in one
    of `people_columns` (assignee, requester).

    The teams are the ids read with the user when they are at hand (API requests: see
    accounts.authentication), which also lets PostgreSQL estimate how many rows a user sees;
    otherwise a subquery on the membership table.
    """
    people = "".join(f" OR {column} = %s" for column in people_columns)
    people_params = (user.pk,) * len(people_columns)
    team_ids = user.loaded_team_ids
    if team_ids is None:
        membership = User.teams.through._meta
        quote = connection.ops.quote_name
        teams = (
            f"SELECT {quote(membership.get_field('team').column)} FROM {quote(membership.db_table)}"
            f" WHERE {quote(membership.get_field('user').column)} = %s"
        )
        return f"({team_column} IN ({teams}){people})", (user.pk, *people_params)
    if not team_ids:
        return f"(1 = 0{people})", people_params
    teams = ", ".join(["%s"] * len(team_ids))
    return f"({team_column} IN ({teams}){people})", (*team_ids, *people_params)


class SeenByWorker(Func):
    """`worker_sees` as a condition of a queryset. Visibility is decided on every request: an
    expression written as SQL costs a fraction of the ORM's `Q(...) | Q(...)` to build."""

    output_field = BooleanField()

    def __init__(self, user, team_field: str, *people_fields: str):
        super().__init__(F(team_field), *(F(field) for field in people_fields))
        self.user = user

    def as_sql(self, compiler, connection, **extra_context):
        columns = [compiler.compile(column)[0] for column in self.source_expressions]
        return worker_sees(self.user, *columns)


class WorkItemQuerySet(models.QuerySet):
    def overdue(self):
        return self.filter(due_at__lt=timezone.now()).exclude(
            status__in=self.model.TERMINAL_STATUSES
        )

    def not_overdue(self):
        # The complement of overdue(), spelled as conditions on the row (no anti-join).
        return self.filter(
            Q(due_at__isnull=True)
            | Q(due_at__gte=timezone.now())
            | Q(status__in=self.model.TERMINAL_STATUSES)
        )


class WorkItem(FSMModelMixin, models.Model):
    """What tickets and work orders share: a titled piece of work of a team, with an audit trail."""

    TERMINAL_STATUSES: frozenset[str] = frozenset()

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    # Sorts priorities by urgency rather than alphabetically; kept by the database.
    priority_rank = models.GeneratedField(
        expression=models.Case(
            *(models.When(priority=value, then=rank) for value, rank in PRIORITY_RANK.items()),
            default=0,
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    # team and assignee lead composite indexes (Meta.indexes), which serve their lookups too.
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="%(class)ss", db_index=False
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_%(class)ss",
        db_index=False,
    )
    due_at = models.DateTimeField(null=True, blank=True)
    # NULL when unset, so that the unique constraint of Meta lets any number of rows go without.
    external_ref = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
        # An index behind every filter and ordering the API offers.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="%(class)s_created_idx"),
            models.Index(fields=["-updated_at", "-id"], name="%(class)s_updated_idx"),
            models.Index(fields=["due_at", "id"], name="%(class)s_due_idx"),
            models.Index(fields=["-priority_rank", "-id"], name="%(class)s_priority_idx"),
            models.Index(fields=["status", "-created_at"], name="%(class)s_status_idx"),
            models.Index(fields=["assignee", "status"], name="%(class)s_assignee_status_idx"),
            # "My work, newest first": read in order, not sorted.
            models.Index(
                fields=["assignee", "-created_at", "-id"], name="%(class)s_assignee_created_idx"
            ),
            models.Index(fields=["team", "status"], name="%(class)s_team_status_idx"),
        ]
        # A constraint rather than unique=True, which on PostgreSQL adds a second index for
        # LIKE queries that nothing runs.
        constraints = [
            models.UniqueConstraint(fields=["external_ref"], name="%(class)s_external_ref_unique")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL_STATUSES

    @property
    def is_overdue(self) -> bool:
        return bool(self.due_at and self.due_at < timezone.now() and not self.is_terminal)


class JSONReadByOrjson(JSONField):
    """A JSON column read with orjson: the work-order summaries of every listed ticket are
    parsed per row, where the json module took a tenth of a list page's Python."""

    def from_db_value(self, value, expression, connection):
        if isinstance(value, str | bytes):
            return orjson.loads(value)
        return value  # None, or already decoded by the database driver


class WorkOrderSummaries(Func):
    """`[{id, title, status}]` of each ticket's linked work orders that `user` may see, in id
    order: one JSON column of the tickets' own query rather than a query of its own.

    Written as SQL because it is part of every ticket that is read: built by the ORM, this
    subquery cost more than reading the tickets (see docs/benchmarks.md).
    """

    output_field = JSONReadByOrjson()

    def __init__(self, user):
        super().__init__(F("pk"))
        self.user = user

    def as_sql(self, compiler, connection, **extra_context):
        ticket_id, ticket_params = compiler.compile(self.source_expressions[0])
        work_orders = Ticket.work_orders.rel.related_model
        visible, visible_params = work_orders.objects.visible_to_sql(self.user, "wo")
        table = connection.ops.quote_name(work_orders._meta.db_table)
        rows = f"SELECT wo.id, wo.title, wo.status FROM {table} wo WHERE wo.ticket_id = {ticket_id}"
        rows = f"{rows} AND {visible} ORDER BY wo.id"
        if connection.vendor == "postgresql":
            # As text, which JSONField decodes (psycopg would decode `json` itself).
            summaries = (
                "json_agg(json_build_object('id', s.id, 'title', s.title, 'status', s.status)"
                " ORDER BY s.id)::text"
            )
        else:  # SQLite keeps the order of the ordered subquery
            summaries = (
                "json_group_array(json_object('id', s.id, 'title', s.title, 'status', s.status))"
            )
        sql = f"COALESCE((SELECT {summaries} FROM ({rows}) s), '[]')"
        return sql, (*ticket_params, *visible_params)


class TicketQuerySet(WorkItemQuerySet):
    def with_work_order_summaries(self, user):
        """`work_order_summaries`: `[{id, title, status}]` of the linked work orders that
        `user` may see, in id order, read with the tickets themselves."""
        return self.annotate(work_order_summaries=WorkOrderSummaries(user))

    def visible_to(self, user):
        """The one place that decides which tickets a user may see."""
        if user.is_staff:
            return self.all()
        if user.is_requester:
            return self.filter(requester=user)
        return self.filter(SeenByWorker(user, "team_id", "assignee_id", "requester_id"))


def describe_active_work_orders(ticket, user) -> str:
    """Names the active work orders `user` may see; the others, of teams not theirs, are only
    counted, as a work order one may not see is not named anywhere else either."""
    active = ticket.work_orders.filter(status__in=ACTIVE_WORK_ORDER_STATUSES).order_by("id")
    named = [f"#{wo.pk} {wo.title} ({wo.status})" for wo in active.visible_to(user)]
    unseen = active.count() - len(named)
    if unseen:
        named.append(f"{unseen} {'more ' if named else ''}that you cannot see")
    return f"linked work orders are still active: {', '.join(named)}"


@guard(describe_active_work_orders, label="linked work orders are still active")
def no_active_work_orders(ticket) -> bool:
    return not ticket.work_orders.filter(status__in=ACTIVE_WORK_ORDER_STATUSES).exists()


class Ticket(WorkItem):
    TERMINAL_STATUSES = TERMINAL_STATUSES
    # Statuses in which a ticket takes new or renewed work orders.
    OPEN_FOR_WORK = ACTIVE_STATUSES

    status = FSMField(
        max_length=16, choices=TicketStatus.choices, default=TicketStatus.NEW, protected=True
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_tickets",
        db_index=False,  # ticket_requester_team_idx leads with it
    )
    resolution = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta(WorkItem.Meta):
        indexes = [
            *WorkItem.Meta.indexes,
            # An agent's own tickets outside their teams, which they see too: read by team
            # ranges (tickets.word_search).
            models.Index(fields=["assignee", "team"], name="ticket_assignee_team_idx"),
            models.Index(fields=["requester", "team"], name="ticket_requester_team_idx"),
        ]

    def events_unseen_by(self, user) -> Q:
        """Of this ticket's events that `user` may read, those they may not: the links to (and
        deletions of) work orders of teams not theirs, whose ids and titles the work orders
        themselves keep from them (404; a deleted one is seen by nobody). Requesters read public
        events only, which neither is."""
        linked = Cast(KeyTextTransform("work_order", OuterRef("data")), models.BigIntegerField())
        # One look-up by primary key a link (an IN over every work order the agent may see
        # would be read whole for each link to one they may not).
        seen = self.work_orders.model.objects.visible_to(user).filter(pk=linked)
        about_work_orders = [EventType.WORK_ORDER_LINKED, EventType.WORK_ORDER_DELETED]
        return Q(type__in=about_work_orders) & ~Exists(seen)

    # The lifecycle. Each transition's body only sets fields; dispatchdesk.workflow.fire()
    # locks the row, checks state, role, inputs and guards, saves and records history.
    @transition(field=status, source=TicketStatus.NEW, target=TicketStatus.OPEN, permission=worker)
    def triage(self, *, note: str = "") -> None:
        pass

    @transition(
        field=status,
        source=TicketStatus.OPEN,
        target=TicketStatus.IN_PROGRESS,
        conditions=[has_assignee],
        permission=assignee_or_supervisor,
    )
    def start(self, *, note: str = "") -> None:
        pass

    @transition(
        field=status,
        source=[TicketStatus.OPEN, TicketStatus.IN_PROGRESS],
        target=TicketStatus.ON_HOLD,
        permission=assignee_or_supervisor,
        custom=needs("note"),
    )
    def hold(self, *, note: str) -> None:
        pass

    @transition(
        field=status,
        source=TicketStatus.ON_HOLD,
        target=TicketStatus.IN_PROGRESS,
        conditions=[has_assignee],
        permission=assignee_or_supervisor,
    )
    def resume(self, *, note: str = "") -> None:
        pass

    @transition(
        field=status,
        source=[TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.ON_HOLD],
        target=TicketStatus.RESOLVED,
        conditions=[no_active_work_orders],
        permission=assignee_or_supervisor,
        custom=needs("resolution"),
    )
    def resolve(self, *, resolution: str, note: str = "") -> None:
        self.resolution = resolution
        self.resolved_at = timezone.now()

    @transition(
        field=status,
        source=TicketStatus.RESOLVED,
        target=TicketStatus.CLOSED,
        permission=requester_or_supervisor,
    )
    def close(self, *, note: str = "") -> None:
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=TicketStatus.RESOLVED,
        target=TicketStatus.OPEN,
        permission=requester_assignee_or_supervisor,
        custom=needs("note"),
    )
    @transition(
        field=status,
        source=TicketStatus.CLOSED,
        target=TicketStatus.OPEN,
        permission=supervisor,
        custom=needs("note"),
    )
    def reopen(self, *, note: str) -> None:
        self.resolution = ""
        self.resolved_at = None
        self.closed_at = None

    @transition(
        field=status,
        source=TicketStatus.NEW,
        target=TicketStatus.CANCELLED,
        permission=requester_or_supervisor,
        custom=needs("note"),
    )
    @transition(
        field=status,
        source=[TicketStatus.OPEN, TicketStatus.ON_HOLD],
        target=TicketStatus.CANCELLED,
        permission=supervisor,
        custom=needs("note"),
    )
    def cancel(self, *, note: str) -> None:
        pass


class Comment(models.Model):
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="comments", db_index=False
    )  # comment_ticket_idx leads with it
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    # Internal comments are for agents and supervisors only; requesters never see them.
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["ticket", "id"], name="comment_ticket_idx")]

    def __str__(self) -> str:
        return f"Comment {self.pk} on ticket {self.ticket_id}"


class TicketWord(models.Model):
    """A word of a ticket's title or description, with its team and time: on PostgreSQL, the
    index that reads a word's tickets in one team newest first (tickets.word_search). Written by
    database triggers on tickets (migration 0007), never by the application; empty elsewhere."""

    pk = models.CompositePrimaryKey("word", "team_id", "created_at", "ticket_id")
    word = models.TextField()
    team_id = models.BigIntegerField()
    created_at = models.DateTimeField()
    ticket_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.word} in ticket {self.ticket_id}"


class SearchVocabulary(models.Model):
    """Every word that a ticket's text has held (kept when no ticket holds it any more): where a
    search term finds the words that contain it. Written by the same triggers, without a unique
    key (see migration 0007): a word may be listed twice."""

    word = models.TextField()

    class Meta:
        verbose_name_plural = "search vocabulary"
        indexes = [models.Index(fields=["word"], name="searchvocabulary_word_idx")]

    def __str__(self) -> str:
        return self.word
