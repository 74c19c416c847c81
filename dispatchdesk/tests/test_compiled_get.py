"""Requests on one ticket or work order read it through SQL compiled once per user
(dispatchdesk.compiled_get): the same object as the ORM's `get()`, for every role."""

import pytest

from accounts.authentication import user_by_id
from dispatchdesk.compiled_get import CompiledGet, compiled_get
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory
from workorders.models import WorkOrder
from workorders.tests.factories import TimeEntryFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db

ROLES = ["requester", "team_agent", "outsider_agent", "supervisor", "admin"]


@pytest.fixture
def work(cast):
    ticket = TicketFactory(
        team=cast["team"], requester=cast["requester"], assignee=cast["assignee"]
    )
    linked = WorkOrderFactory(team=cast["team"], ticket=ticket, assignee=cast["assignee"])
    WorkOrderFactory(team=cast["other_team"], ticket=ticket)  # not for the team's agents
    TimeEntryFactory(work_order=linked, user=cast["assignee"], minutes=42)
    return {"ticket": ticket, "work_order": linked}


def querysets(user):
    return {
        "ticket": Ticket.objects.visible_to(user).with_work_order_summaries(user),
        "work_order": WorkOrder.objects.visible_to(user).with_actual_minutes(),
    }


def attributes(obj) -> dict:
    names = [field.attname for field in type(obj)._meta.concrete_fields]
    names += ["work_order_summaries", "actual_minutes"]
    return {name: getattr(obj, name) for name in names if hasattr(obj, name)}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", ["ticket", "work_order"])
def test_the_object_is_the_one_the_orm_gets(cast, work, role, kind):
    user = user_by_id(cast[role].pk)  # as API authentication reads them: with their team ids
    rows = querysets(user)[kind]
    obj = work[kind]

    found = CompiledGet(rows).get(obj.pk)

    expected = rows.filter(pk=obj.pk).first()
    if expected is None:
        assert found is None
    else:
        assert attributes(found) == attributes(expected)
        assert not found._state.adding and found._state.db == expected._state.db


def test_visibility_and_annotations_hold_for_the_user_it_was_compiled_for(cast, work):
    agent = user_by_id(cast["team_agent"].pk)
    ticket = CompiledGet(querysets(agent)["ticket"]).get(work["ticket"].pk)
    assert [s["id"] for s in ticket.work_order_summaries] == [work["work_order"].pk]
    assert (
        CompiledGet(querysets(agent)["work_order"]).get(work["work_order"].pk).actual_minutes == 42
    )

    outsider = user_by_id(cast["outsider_agent"].pk)
    assert CompiledGet(querysets(outsider)["ticket"]).get(work["ticket"].pk) is None


@pytest.mark.parametrize("key", ["abc", "", "1.5", None, -5, 0, 2**63, -(2**63) - 1, 10**30])
def test_what_cannot_be_a_key_finds_nothing(cast, work, key):
    compiled = CompiledGet(Ticket.objects.all())
    assert compiled.get(key) is None
    assert compiled.get(str(work["ticket"].pk)) == work["ticket"]


def test_an_empty_queryset_finds_nothing(work):
    assert CompiledGet(WorkOrder.objects.none()).get(work["work_order"].pk) is None


def test_the_sql_is_compiled_once_per_key(work):
    made = []

    def rows():
        made.append(1)
        return Ticket.objects.all()

    first = compiled_get(("test", 1), rows)
    assert compiled_get(("test", 1), rows) is first
    assert compiled_get(("test", 2), rows) is not first
    assert len(made) == 2
    assert first.get(work["ticket"].pk) == work["ticket"]


@pytest.mark.parametrize("url", ["/api/v1/tickets/{}/", "/api/v1/work-orders/{}/"])
@pytest.mark.parametrize("key", ["abc", "99999999999999999999999", "-5", "0"])
def test_api_ids_that_cannot_be_keys_are_404(client_for, cast, url, key):
    assert client_for(cast["supervisor"]).get(url.format(key)).status_code == 404


def test_a_role_change_reaches_the_next_request(client_for, cast, work):
    other = TicketFactory(team=cast["other_team"])
    agent = cast["team_agent"]
    client = client_for(agent)
    assert client.get(f"/api/v1/tickets/{other.pk}/").status_code == 404

    agent.role = "supervisor"
    agent.save()

    assert client.get(f"/api/v1/tickets/{other.pk}/").status_code == 200


def test_a_new_team_reaches_the_next_request(client_for, cast, work):
    other = TicketFactory(team=cast["other_team"])
    agent = cast["team_agent"]
    client = client_for(agent)
    assert client.get(f"/api/v1/tickets/{other.pk}/").status_code == 404

    agent.teams.add(cast["other_team"])

    assert client.get(f"/api/v1/tickets/{other.pk}/").status_code == 200


def test_a_query_string_filters_the_object_as_drf_does(client_for, cast, work):
    client = client_for(cast["supervisor"])
    url = f"/api/v1/tickets/{work['ticket'].pk}/"

    assert client.get(url).status_code == 200
    assert client.get(url, {"status": "closed"}).status_code == 404
    assert client.get(url, {"status": work["ticket"].status}).status_code == 200
