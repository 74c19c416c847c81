import io

import pytest
from django.core.management import call_command

from accounts.models import User
from dispatchdesk.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS
from dispatchdesk.models import Event
from tickets.choices import TicketStatus
from tickets.models import Comment, Ticket
from workorders.choices import WorkOrderStatus
from workorders.models import ChecklistItem, WorkOrder

pytestmark = pytest.mark.django_db


def test_demo_data_has_every_role_and_every_ticket_status(api_client):
    call_command("seed_demo", stdout=io.StringIO())

    assert set(User.objects.values_list("role", flat=True)) == {
        "requester",
        "agent",
        "supervisor",
        "admin",
    }
    assert set(Ticket.objects.values_list("status", flat=True)) == set(TicketStatus.values)
    assert Comment.objects.filter(internal=True).exists()
    assert Comment.objects.filter(internal=False).exists()
    assert Ticket.objects.overdue().exists()
    assert set(WorkOrder.objects.values_list("status", flat=True)) == set(WorkOrderStatus.values)
    assert WorkOrder.objects.filter(ticket__isnull=False).exists()
    assert ChecklistItem.objects.filter(done=True).exists()
    assert WorkOrder.objects.with_actual_minutes().filter(actual_minutes__gt=0).exists()
    for ticket in Ticket.objects.all():
        assert Event.objects.for_object(ticket).filter(type="created").count() == 1
    for email, *_ in DEMO_USERS:
        response = api_client.post(
            "/api/v1/auth/token/", {"email": email, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, email


def test_demo_data_is_loaded_only_into_an_empty_database(capsys):
    call_command("seed_demo")
    counts = (User.objects.count(), Ticket.objects.count(), Event.objects.count())

    call_command("seed_demo")

    assert (User.objects.count(), Ticket.objects.count(), Event.objects.count()) == counts
    assert "already has users" in capsys.readouterr().out
