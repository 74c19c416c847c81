import factory
from django.utils import timezone

from accounts.tests.factories import RequesterFactory, TeamFactory
from dispatchdesk.workflow import default_due_at
from tickets.choices import Priority, TicketStatus
from tickets.models import Comment, Ticket


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket placed straight in `status` (tests of the lifecycle fire real transitions)."""

    class Meta:
        model = Ticket

    title = factory.Sequence(lambda n: f"Ticket {n}")
    description = factory.Faker("sentence")
    status = TicketStatus.NEW  # set at construction, which a protected FSM field allows
    priority = Priority.NORMAL
    team = factory.SubFactory(TeamFactory)
    requester = factory.SubFactory(RequesterFactory)
    created_by = factory.SelfAttribute("requester")
    updated_by = factory.SelfAttribute("requester")
    created_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda t: default_due_at(t.priority, t.created_at))


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    ticket = factory.SubFactory(TicketFactory)
    author = factory.SelfAttribute("ticket.requester")
    body = factory.Faker("sentence")
