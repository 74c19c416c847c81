"""Requests on one ticket or work order, and pages of lists without filters, read their rows
through SQL compiled once per user (dispatchdesk.compiled): the same objects as the ORM's, for
every role."""

import pytest

from accounts.authentication import user_by_id
from dispatchdesk import compiled as compiled_module
from dispatchdesk import pagination
from dispatchdesk.compiled import CompiledGet, CompiledQuery, compiled
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

    first = compiled(("test", 1), lambda: CompiledGet(rows()))
    assert compiled(("test", 1), lambda: CompiledGet(rows())) is first
    assert compiled(("test", 2), lambda: CompiledGet(rows())) is not first
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


def test_a_query_string_does_not_filter_the_object(client_for, cast, work):
    """Unlike DRF's get_object: a list's filters are no reason to miss a visible object."""
    client = client_for(cast["supervisor"])
    url = f"/api/v1/tickets/{work['ticket'].pk}/"

    assert client.get(url).status_code == 200
    assert client.get(url, {"status": "closed"}).status_code == 200
    assert client.get(url, {"status": work["ticket"].status}).status_code == 200


# Lists --------------------------------------------------------------------------------------


@pytest.fixture
def many(cast, work):
    """Tickets and work orders of both teams, more than the lowered exact-count limit."""
    for team in (cast["team"], cast["other_team"], cast["team"]):
        ticket = TicketFactory(team=team, requester=cast["requester"], assignee=cast["assignee"])
        WorkOrderFactory(team=team, ticket=ticket)
        WorkOrderFactory(team=team, assignee=cast["assignee"])


@pytest.fixture
def pages_in_order(monkeypatch):
    """A list longer than two rows is paged in order rather than read by the ids found (the
    path of long lists, which is the one compiled)."""
    monkeypatch.setattr(pagination.CappedCountPaginator, "exact_count_limit", 2)


@pytest.fixture
def compilations(monkeypatch):
    """The querysets compiled by CompiledQuery, in order."""
    made = []
    init = CompiledQuery.__init__

    def counted(self, queryset):
        made.append(queryset.model.__name__)
        init(self, queryset)

    monkeypatch.setattr(CompiledQuery, "__init__", counted)
    return made


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", ["ticket", "work_order"])
def test_a_compiled_page_holds_the_objects_the_orm_reads(cast, many, role, kind, pages_in_order):
    user = user_by_id(cast[role].pk)
    rows = querysets(user)[kind].order_by("-created_at", "-id")
    key = ("test", role, kind)

    number, read = 1, 0
    while True:
        compiled_page = pagination.EstimateFirstPaginator(rows, 2, compiled_key=key).page(number)
        orm_page = pagination.EstimateFirstPaginator(rows, 2).page(number)
        assert [attributes(obj) for obj in compiled_page] == [attributes(o) for o in orm_page]
        assert compiled_page.has_next() == orm_page.has_next()
        assert all(not obj._state.adding for obj in compiled_page)
        read += len(compiled_page)
        if not compiled_page.has_next():
            break
        number += 1
    assert read == rows.count()


@pytest.mark.parametrize("url", ["/api/v1/tickets/", "/api/v1/work-orders/"])
def test_a_list_is_compiled_once_per_user_and_page(
    client_for, cast, many, url, pages_in_order, compilations
):
    supervisor = client_for(cast["supervisor"])
    first = supervisor.get(url, {"page_size": 2}).json()
    assert supervisor.get(url, {"page_size": 2}).json() == first
    assert len(compilations) == 1
    assert len(first["results"]) == 2 and first["next"] is not None

    supervisor.get(url, {"page_size": 2, "page": 2})  # another page
    client_for(cast["admin"]).get(url, {"page_size": 2})  # another user
    assert len(compilations) == 3
    # Filters, ordering and search go through DRF's own code, compiled each time.
    supervisor.get(url, {"page_size": 2, "priority": "high"})
    supervisor.get(url, {"page_size": 2, "ordering": "due_at"})
    assert len(compilations) == 3


def test_a_compiled_list_runs_afresh_each_time(client_for, cast, many, pages_in_order):
    client = client_for(cast["team_agent"])
    before = client.get("/api/v1/tickets/", {"page_size": 2}).json()

    newest = TicketFactory(team=cast["team"], title="Just in")

    after = client.get("/api/v1/tickets/", {"page_size": 2}).json()
    assert after["results"][0]["id"] == newest.pk
    assert after["results"][1] == before["results"][0]


def test_a_new_team_reaches_the_next_list(client_for, cast, many, pages_in_order):
    agent = cast["outsider_agent"]
    client = client_for(agent)
    url = "/api/v1/tickets/"
    ids = {row["id"] for row in client.get(url, {"page_size": 50}).json()["results"]}
    assert work_ticket_ids(cast["team"]).isdisjoint(ids)

    agent.teams.add(cast["team"])

    ids = {row["id"] for row in client.get(url, {"page_size": 50}).json()["results"]}
    assert work_ticket_ids(cast["team"]) <= ids


def work_ticket_ids(team) -> set[int]:
    return set(Ticket.objects.filter(team=team).values_list("pk", flat=True))


def test_compiled_queries_read_model_instances_only(work):
    with pytest.raises(ValueError, match="model instances"):
        CompiledQuery(Ticket.objects.values("pk"))
    with pytest.raises(ValueError, match="model instances"):
        CompiledQuery(Ticket.objects.prefetch_related("comments"))
    with pytest.raises(ValueError, match="follow relations"):
        CompiledQuery(Ticket.objects.select_related("team"))
    assert CompiledQuery(Ticket.objects.none()).run() == []
    assert CompiledQuery(Ticket.objects.all()).run() == [work["ticket"]]


def test_the_kept_queries_start_afresh_beyond_the_limit(monkeypatch, work):
    monkeypatch.setattr(compiled_module, "MAX_KEPT", 2)
    made = []

    def compile_rows():
        made.append(1)
        return CompiledQuery(Ticket.objects.all())

    for key in ("a", "b", "c", "a"):
        compiled(("limit", key), compile_rows)
    assert len(made) == 4  # "a" was let go when "c" came
