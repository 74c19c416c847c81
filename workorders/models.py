from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm import FSMField, transition

from dispatchdesk.workflow import (
    as_shown,
    assignee_or_supervisor,
    guard,
    has_assignee,
    needs,
    supervisor,
    worker,
)
from tickets.models import SeenByWorker, Ticket, WorkItem, WorkItemQuerySet, worker_sees

from .choices import ACTIVE_STATUSES, TERMINAL_STATUSES, WorkOrderStatus

MAX_MINUTES_PER_ENTRY = 7 * 24 * 60  # a week
MAX_ESTIMATED_MINUTES = 366 * 24 * 60  # a year


class WorkOrderQuerySet(WorkItemQuerySet):
    def visible_to(self, user):
        """Work orders are for staff: their teams' and those assigned to them."""
        if user.is_staff:
            return self.all()
        if user.is_requester:
            return self.none()
        return self.filter(SeenByWorker(user, "team_id", "assignee_id"))

    def visible_to_sql(self, user, alias: str) -> tuple[str, tuple]:
        """`visible_to(user)` as a condition on the work order `alias`, for SQL written by hand
        (the summaries read with every ticket); a test holds the two to the same rows."""
        if user.is_staff:
            return "1 = 1", ()
        if user.is_requester:
            return "1 = 0", ()
        return worker_sees(user, f"{alias}.team_id", f"{alias}.assignee_id")

    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def with_actual_minutes(self):
        """`actual_minutes`: the sum of the time entries, computed by the database."""
        total = (
            TimeEntry.objects.filter(work_order=OuterRef("pk"))
            .values("work_order")
            .annotate(total=Sum("minutes"))
            .values("total")
        )
        return self.annotate(actual_minutes=Coalesce(Subquery(total), Value(0)))


def describe_unfinished_checklist(work_order, user) -> str:
    items = ", ".join(f'"{item.text}"' for item in work_order.checklist.filter(done=False))
    return f"checklist items are not done: {items}"


@guard(describe_unfinished_checklist, label="checklist items are not done")
def checklist_done(work_order) -> bool:
    return not work_order.checklist.filter(done=False).exists()


@guard(
    "its ticket is resolved, closed or cancelled; reopen the ticket first",
    label="its ticket is resolved, closed or cancelled",
)
def ticket_still_open(work_order) -> bool:
    """Active work under a finished ticket would break the ticket's resolve guard."""
    return work_order.ticket is None or work_order.ticket.status in Ticket.OPEN_FOR_WORK


class WorkOrder(WorkItem):
    TERMINAL_STATUSES = TERMINAL_STATUSES

    status = FSMField(
        max_length=16, choices=WorkOrderStatus.choices, default=WorkOrderStatus.OPEN, protected=True
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders"
    )
    scheduled_start = models.DateTimeField(null=True, blank=True)
    scheduled_end = models.DateTimeField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    estimated_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_ESTIMATED_MINUTES)]
    )
    completion_notes = models.TextField(blank=True)

    objects = WorkOrderQuerySet.as_manager()

    def lock_related(self) -> None:
        """Lock the linked ticket too: its resolve guard reads this work order's status."""
        if self.ticket_id is not None:
            self.ticket = Ticket.objects.select_for_update(of=("self",)).get(pk=self.ticket_id)

    class Meta(WorkItem.Meta):
        verbose_name = "work order"
        constraints = [
            *WorkItem.Meta.constraints,
            models.CheckConstraint(
                condition=Q(scheduled_end__isnull=True)
                | Q(scheduled_start__isnull=True)
                | Q(scheduled_end__gte=models.F("scheduled_start")),
                name="workorder_schedule_ends_after_start",
                violation_error_message="The scheduled end must not be before the start.",
            ),
        ]
        indexes = [
            *WorkItem.Meta.indexes,
            models.Index(fields=["scheduled_start", "id"], name="workorder_scheduled_idx"),
        ]

    # The lifecycle; see tickets.models.Ticket for how transitions are declared and fired.
    @transition(
        field=status,
        source=WorkOrderStatus.OPEN,
        target=WorkOrderStatus.SCHEDULED,
        conditions=[has_assignee],
        permission=worker,
        custom=needs("scheduled_start"),
    )
    def schedule(self, *, scheduled_start, note: str = "") -> None:
        if self.scheduled_end and self.scheduled_end < scheduled_start:
            # Said rather than the end cleared: a transition changes no field it does not name.
            raise ValidationError(
                {
                    "scheduled_start": [
                        f"Must not be after the scheduled end ({as_shown(self.scheduled_end)}); "
                        "move or clear scheduled_end first."
                    ]
                }
            )
        self.scheduled_start = scheduled_start

    @transition(
        field=status,
        source=[WorkOrderStatus.OPEN, WorkOrderStatus.SCHEDULED],
        target=WorkOrderStatus.IN_PROGRESS,
        conditions=[has_assignee],
        permission=assignee_or_supervisor,
    )
    def start(self, *, note: str = "") -> None:
        pass

    @transition(
        field=status,
        source=WorkOrderStatus.IN_PROGRESS,
        target=WorkOrderStatus.ON_HOLD,
        permission=assignee_or_supervisor,
        custom=needs("note"),
    )
    def pause(self, *, note: str) -> None:
        pass

    @transition(
        field=status,
        source=WorkOrderStatus.ON_HOLD,
        target=WorkOrderStatus.IN_PROGRESS,
        permission=assignee_or_supervisor,
    )
    def resume(self, *, note: str = "") -> None:
        pass

    @transition(
        field=status,
        source=WorkOrderStatus.IN_PROGRESS,
        target=WorkOrderStatus.COMPLETED,
        conditions=[checklist_done],
        permission=assignee_or_supervisor,
        custom=needs("completion_notes"),
    )
    def complete(self, *, completion_notes: str, note: str = "") -> None:
        self.completion_notes = completion_notes

    @transition(
        field=status,
        source=WorkOrderStatus.COMPLETED,
        target=WorkOrderStatus.VERIFIED,
        permission=supervisor,
    )
    def verify(self, *, note: str = "") -> None:
        pass

    @transition(
        field=status,
        source=WorkOrderStatus.COMPLETED,
        target=WorkOrderStatus.IN_PROGRESS,
        conditions=[ticket_still_open],
        permission=supervisor,
        custom=needs("note"),
    )
    def rework(self, *, note: str) -> None:
        pass

    @transition(
        field=status,
        source=[WorkOrderStatus.OPEN, WorkOrderStatus.SCHEDULED, WorkOrderStatus.ON_HOLD],
        target=WorkOrderStatus.CANCELLED,
        permission=supervisor,
        custom=needs("note"),
    )
    def cancel(self, *, note: str) -> None:
        pass


class ChecklistItem(models.Model):
    work_order = models.ForeignKey(
        WorkOrder, on_delete=models.CASCADE, related_name="checklist", db_index=False
    )  # checklist_order_idx leads with it
    text = models.CharField(max_length=500)
    position = models.PositiveIntegerField(default=0)
    done = models.BooleanField(default=False)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["work_order", "position"], name="checklist_order_idx")]

    def __str__(self) -> str:
        return self.text


class TimeEntry(models.Model):
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="time_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_MINUTES_PER_ENTRY)]
    )
    note = models.CharField(max_length=500, blank=True)
    date = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "time entries"
        ordering = ["date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gt=0),
                name="time_entry_minutes_positive",
                violation_error_message="Log at least one minute.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.minutes} min on work order {self.work_order_id}"
