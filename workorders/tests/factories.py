import factory
from django.utils import timezone

from accounts.tests.factories import SupervisorFactory, TeamFactory
from dispatchdesk.workflow import default_due_at
from tickets.choices import Priority
from workorders.choices import WorkOrderStatus
from workorders.models import ChecklistItem, TimeEntry, WorkOrder


class WorkOrderFactory(factory.django.DjangoModelFactory):
    """A work order placed straight in `status` (tests of the lifecycle fire real transitions)."""

    class Meta:
        model = WorkOrder

    title = factory.Sequence(lambda n: f"Work order {n}")
    description = factory.Faker("sentence")
    status = WorkOrderStatus.OPEN  # set at construction, which a protected FSM field allows
    priority = Priority.NORMAL
    team = factory.SubFactory(TeamFactory)
    ticket = None
    created_by = factory.SubFactory(SupervisorFactory)
    updated_by = factory.SelfAttribute("created_by")
    created_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda wo: default_due_at(wo.priority, wo.created_at))


class ChecklistItemFactory(factory.django.DjangoModelFactory):
    """An unticked item at the end of its work order's checklist."""

    class Meta:
        model = ChecklistItem

    work_order = factory.SubFactory(WorkOrderFactory)
    text = factory.Sequence(lambda n: f"Step {n}")
    position = factory.LazyAttribute(lambda item: item.work_order.checklist.count())
    done = False


class TimeEntryFactory(factory.django.DjangoModelFactory):
    """Time logged by the work order's assignee (or, without one, its creator)."""

    class Meta:
        model = TimeEntry

    work_order = factory.SubFactory(WorkOrderFactory)
    user = factory.LazyAttribute(
        lambda entry: entry.work_order.assignee or entry.work_order.created_by
    )
    minutes = 30
    note = factory.Faker("sentence")
    date = factory.LazyFunction(timezone.localdate)
