"""The fast read path gives exactly what DRF gives: serializers (FastReadMixin) key for key, and
the orjson renderer byte for byte."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework import renderers, serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.test import APIRequestFactory

from accounts.tests.factories import AgentFactory, TeamFactory
from dispatchdesk.history import history_visible_to
from dispatchdesk.models import Event, EventType
from dispatchdesk.renderers import JSONRenderer
from dispatchdesk.serializers import EventSerializer
from tickets.models import Ticket
from tickets.serializers import CommentSerializer, TicketSerializer
from tickets.tests.factories import CommentFactory, TicketFactory
from workorders.models import WorkOrder
from workorders.serializers import (
    ChecklistItemSerializer,
    TimeEntrySerializer,
    WorkOrderSerializer,
)
from workorders.tests.factories import ChecklistItemFactory, TimeEntryFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db


def drf(serializer, instance) -> dict:
    """What DRF's own Serializer.to_representation gives."""
    return serializers.Serializer.to_representation(serializer, instance)


@pytest.fixture
def agent():
    return AgentFactory(teams=[TeamFactory()])


@pytest.fixture
def context(agent):
    request = APIRequestFactory().get("/")
    request.user = agent
    return {"request": request}


@pytest.fixture
def objects(agent):
    team = agent.teams.get()
    bare = TicketFactory(team=team, due_at=None, description="")
    full = TicketFactory(team=team, assignee=agent, status="resolved", resolution="Fixed ☃")
    Ticket.objects.filter(pk=full.pk).update(
        resolved_at=timezone.now(), external_ref="EXT-1", closed_at=None
    )
    work_order = WorkOrderFactory(ticket=full, team=team, assignee=agent, estimated_minutes=90)
    WorkOrderFactory(ticket=full, team=TeamFactory(), title="Not the agent's")
    ChecklistItemFactory(work_order=work_order)
    TimeEntryFactory(work_order=work_order, user=agent, minutes=45)
    CommentFactory(ticket=full, body="Line\u2028separator")
    Event.objects.create(subject=full, actor=agent, type=EventType.CREATED, data={"a": [1, "b"]})
    return {"bare": bare, "full": full, "work_order": work_order}


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_tickets_read_as_drf_reads_them(objects, agent, context, zone):
    with timezone.override(zone):
        rows = Ticket.objects.visible_to(agent).with_work_order_summaries(agent)
        for ticket in [*rows, objects["bare"]]:  # with the annotation and without it
            serializer = TicketSerializer(ticket, context=context)
            assert serializer.data == drf(serializer, ticket)
            assert list(serializer.data) == list(drf(serializer, ticket))


def test_the_work_order_summaries_hold_only_visible_work_orders(objects, agent, context):
    ticket = Ticket.objects.with_work_order_summaries(agent).get(pk=objects["full"].pk)

    data = TicketSerializer(ticket, context=context).data

    assert data["work_orders"] == [
        {"id": objects["work_order"].pk, "title": objects["work_order"].title, "status": "open"}
    ]


def test_work_orders_read_as_drf_reads_them_with_and_without_the_annotation(
    objects, agent, context
):
    annotated = WorkOrder.objects.with_actual_minutes().get(pk=objects["work_order"].pk)
    plain = WorkOrder.objects.get(pk=objects["work_order"].pk)

    for work_order in (annotated, plain):
        serializer = WorkOrderSerializer(work_order, context=context)
        assert serializer.data == drf(serializer, work_order)
    assert WorkOrderSerializer(annotated, context=context).data["actual_minutes"] == 45
    assert "actual_minutes" not in WorkOrderSerializer(plain, context=context).data


@pytest.mark.parametrize(
    ("serializer_class", "rows"),
    [
        (CommentSerializer, lambda o: o["full"].comments.all()),
        (EventSerializer, lambda o: history_visible_to(o["full"], o["full"].assignee)),
        (ChecklistItemSerializer, lambda o: o["work_order"].checklist.all()),
        (TimeEntrySerializer, lambda o: o["work_order"].time_entries.all()),
    ],
)
def test_children_read_as_drf_reads_them(objects, serializer_class, rows):
    found = list(rows(objects))
    assert found
    for row in found:
        serializer = serializer_class(row)
        assert serializer.data == drf(serializer, row)


SAMPLES = [
    {"id": 1, "title": "Café ☃", "nested": [{"a": None, "b": True}, (1, 2)], "empty": {}},
    {"when": dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)},
    {"when": dt.datetime(2024, 5, 1, 12, 30, 15), "day": dt.date(2024, 5, 1)},
    {"at": dt.time(8, 15, 30, 5), "span": dt.timedelta(hours=2)},
    {"money": Decimal("12.50"), "ref": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"detail": ErrorDetail("Not found.", code="not_found"), "lazy": gettext_lazy("Not found.")},
    {"separators": "a\u2028b\u2029c", "big": 2**62, 3: "int key"},
    [],
    "text",
]


@pytest.mark.parametrize("data", SAMPLES)
def test_the_renderer_sends_the_bytes_drf_sends(data):
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_the_renderer_indents_as_drf_for_the_browsable_api():
    data = {"a": [1, 2], "b": "c"}
    context = {"indent": 4}

    assert JSONRenderer().render(data, renderer_context=context) == (
        renderers.JSONRenderer().render(data, renderer_context=context)
    )
    assert JSONRenderer().render(None) == b""
