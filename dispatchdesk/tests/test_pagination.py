"""Pagination at any size: `count` exact up to a limit (1,000) and estimated beyond on
PostgreSQL, `next` and `previous` exact always, the same keys as DRF's page-number pagination.

The limits are lowered here so that a handful of rows crosses them.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import TeamFactory
from dispatchdesk import pagination
from tickets.models import Ticket
from tickets.services import comment_add
from tickets.tests.factories import CommentFactory, TicketFactory
from workorders.tests.factories import WorkOrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"
POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def supervisor(client_for, cast):
    return client_for(cast["supervisor"])


@pytest.fixture
def eight(cast):
    """Eight tickets, newest first."""
    rows = [TicketFactory(team=cast["team"], requester=cast["requester"]) for _ in range(8)]
    return [ticket.pk for ticket in reversed(rows)]


@pytest.fixture
def limit_of_five(monkeypatch):
    monkeypatch.setattr(pagination.CappedCountPaginator, "exact_count_limit", 5)


def walk(client, **params) -> list[int]:
    """The ids of every page, following `next`; checks `previous` on the way."""
    ids, url, page = [], URL, 1
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        assert set(body) == {"count", "next", "previous", "results"}
        assert (body["previous"] is None) == (page == 1)
        ids += [row["id"] for row in body["results"]]
        if body["next"] is None:
            return ids
        response, page = client.get(body["next"]), page + 1


def test_below_the_limit_the_count_is_exact(supervisor, cast, eight):
    body = supervisor.get(URL, {"page_size": 3}).json()

    assert body["count"] == 8
    assert len(body["results"]) == 3


@pytest.mark.parametrize(("estimate", "count"), [(12_345, 12_345), (2, 6)])
def test_beyond_the_limit_the_count_is_an_estimate_on_postgresql(
    supervisor, eight, limit_of_five, monkeypatch, estimate, count
):
    monkeypatch.setattr(pagination, "planner_estimate", lambda *args: estimate)

    answered = supervisor.get(URL, {"page_size": 3}).json()["count"]

    if POSTGRESQL:
        assert answered == count  # the planner's estimate, never below the limit + 1
    else:
        assert answered == 8  # other databases count


@pytest.mark.parametrize("size", [1, 3, 5, 8, 50])
def test_the_pages_hold_every_row_once_in_order_whatever_the_count(
    supervisor, eight, limit_of_five, size
):
    assert walk(supervisor, page_size=size) == eight


@pytest.mark.parametrize("page", ["4", "0", "-1", "two", "1.5"])
def test_a_page_that_is_not_there_is_not_found(supervisor, eight, page):
    response = supervisor.get(URL, {"page_size": 3, "page": page})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


HUGE_PAGE = "805066107342477025874018304"  # found by the fuzzer: OFFSET beyond 64 bits


@pytest.fixture
def one_of_each(cast, eight):
    """Rows in every list (an empty list would answer without a query)."""
    ticket = Ticket.objects.get(pk=eight[0])
    WorkOrderFactory(team=cast["team"], ticket=ticket)
    CommentFactory(ticket=ticket, author=cast["supervisor"])


@pytest.mark.parametrize(
    "url",
    [URL, "/api/v1/work-orders/", "/api/v1/users/", "/api/v1/teams/", "COMMENTS"],
)
@pytest.mark.parametrize("page", [HUGE_PAGE, str(2**62)])
def test_a_page_far_beyond_any_offset_the_database_takes_is_not_found(
    supervisor, eight, one_of_each, url, page
):
    url = f"{URL}{eight[0]}/comments/" if url == "COMMENTS" else url
    assert supervisor.get(url).json()["results"]  # the list has rows

    response = supervisor.get(url, {"page": page, "page_size": 50})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_last_page_an_offset_can_reach_is_merely_empty(supervisor, eight):
    """(2**63 // 50) * 50 still fits in 64 bits: the database is asked, and finds nothing."""
    response = supervisor.get(URL, {"page": str(2**63 // 50), "page_size": 50})

    assert response.status_code == 404


def test_the_last_page(supervisor, eight):
    body = supervisor.get(URL, {"page_size": 3, "page": "last"}).json()

    assert [row["id"] for row in body["results"]] == eight[6:]
    assert body["next"] is None


def test_an_empty_list_is_one_empty_page(supervisor, eight, limit_of_five):
    body = supervisor.get(URL, {"team": 99999}).json()

    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def test_a_big_expected_list_is_not_counted(supervisor, eight, monkeypatch, limit_of_five):
    """Tickets and work orders ask the planner first: when it expects many rows, nothing
    counts them (on PostgreSQL; elsewhere the count stays exact)."""
    monkeypatch.setattr(pagination.CappedCountPaginator, "trust_estimate_above", 0)
    monkeypatch.setattr(pagination, "planner_estimate", lambda *args: 12_345)

    with CaptureQueriesContext(connection) as queries:
        body = supervisor.get(URL, {"page_size": 3}).json()

    assert [row["id"] for row in body["results"]] == eight[:3]
    assert body["next"] is not None
    if POSTGRESQL:
        assert body["count"] == 12_345
        assert not any("array_agg" in q["sql"] or "COUNT(" in q["sql"] for q in queries)
    else:
        assert body["count"] == 8


@pytest.mark.parametrize(("estimate", "probed"), [(3_000, True), (3_001, False)])
def test_estimates_above_three_times_the_exact_limit_are_taken_as_they_are(
    supervisor, eight, monkeypatch, estimate, probed
):
    monkeypatch.setattr(pagination, "planner_estimate", lambda *args: estimate)

    with CaptureQueriesContext(connection) as queries:
        body = supervisor.get(URL, {"page_size": 3}).json()

    assert [row["id"] for row in body["results"]] == eight[:3]
    if POSTGRESQL:
        assert any("array_agg" in query["sql"] for query in queries) == probed
        assert body["count"] == (8 if probed else estimate)
    else:
        assert body["count"] == 8  # SQLite has no estimate: always exact


@pytest.mark.skipif(not POSTGRESQL, reason="the planner's estimate is PostgreSQL's")
def test_when_the_planner_expects_far_more_rows_the_page_is_read_by_id(
    supervisor, eight, monkeypatch
):
    monkeypatch.setattr(pagination, "planner_estimate", lambda *args: 2_500)

    with CaptureQueriesContext(connection) as queries:
        body = supervisor.get(URL, {"page_size": 3}).json()

    assert body["count"] == 8
    assert [row["id"] for row in body["results"]] == eight[:3]
    page_query = queries[-1]["sql"]
    # The ids as one array, not a parameter each.
    assert page_query.count('"tickets_ticket"."id" = ANY(') == 1
    assert "IN (" not in page_query


@pytest.mark.skipif(not POSTGRESQL, reason="the probe's array is PostgreSQL's")
def test_a_page_of_found_rows_reads_only_its_own_rows(supervisor, eight):
    """The probe sorts the ids it finds as the list is: page 2 reads its three rows, not eight."""
    with CaptureQueriesContext(connection) as queries:
        body = supervisor.get(URL, {"page_size": 3, "page": 2}).json()

    assert [row["id"] for row in body["results"]] == eight[3:6]
    page_query = queries[-1]["sql"]
    ids = re.search(r'"tickets_ticket"\."id" = ANY\(\'\{([\d,]*)\}', page_query).group(1)
    assert sorted(int(pk) for pk in ids.split(",")) == sorted(eight[3:6])


@pytest.mark.parametrize("ordering", [("-created_at", "-id"), ("team__name", "-id")])
def test_rows_found_keep_the_order_also_by_a_related_column(cast, ordering):
    """Ordered by another table's column (the admin sorts by one), the ids found come unsorted
    and the page is cut from all of them, read again in order."""
    other = TeamFactory(name="Aardvarks")
    made = [
        TicketFactory(team=team, requester=cast["requester"], title=f"Pump {n}")
        for n, team in enumerate([cast["team"], other] * 3)
    ]
    rows = Ticket.objects.filter(title__startswith="Pump").order_by(*ordering)

    pages = [
        [ticket.pk for ticket in pagination.EstimateFirstPaginator(rows, 4).page(number)]
        for number in (1, 2)
    ]

    assert pages[0] + pages[1] == [ticket.pk for ticket in rows]
    assert sorted(pages[0] + pages[1]) == sorted(ticket.pk for ticket in made)


def test_children_lists_count_exactly(client_for, cast):
    """Comments, history and the like are short: counted, with no estimate."""
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"])
    client = client_for(cast["supervisor"])
    for n in range(4):
        client.post(f"{URL}{ticket.pk}/comments/", {"body": f"Note {n}"}, format="json")

    body = client.get(f"{URL}{ticket.pk}/comments/", {"page_size": 3}).json()

    assert body["count"] == 4
    assert len(body["results"]) == 3


ORDERS = {
    None: ["-created_at", "-id"],
    "created_at": ["created_at", "id"],
    "-priority": ["-priority_rank", "-id"],
    "due_at": ["due_at", "id"],
}


@pytest.mark.parametrize("ordering", list(ORDERS))
def test_a_page_of_found_rows_keeps_the_order_asked_for(supervisor, cast, ordering):
    """Found rows are read again by id, without the filters: in the same order."""
    for n in range(7):
        TicketFactory(
            team=cast["team"],
            requester=cast["requester"],
            title=f"Disk {n}" if n % 3 else f"Fan {n}",
            priority=["low", "normal", "high", "urgent"][n % 4],
        )
    params = {} if ordering is None else {"ordering": ordering}
    disks = Ticket.objects.filter(title__startswith="Disk").order_by(*ORDERS[ordering])

    found = walk(supervisor, page_size=2, search="disk", **params)

    assert found == [ticket.pk for ticket in disks]


@pytest.mark.parametrize(
    "paginator", [pagination.CappedCountPaginator, pagination.EstimateFirstPaginator]
)
def test_a_list_of_nothing_at_all_is_one_empty_page(eight, paginator):
    with CaptureQueriesContext(connection) as queries:
        page = paginator(Ticket.objects.none(), 3).page(1)

    assert list(page) == [] and page.paginator.count == 0 and not page.has_next()
    assert len(queries) == 0


@pytest.mark.parametrize(
    "paginator", [pagination.CappedCountPaginator, pagination.EstimateFirstPaginator]
)
@pytest.mark.parametrize(
    "matching_nothing",
    [
        lambda: Ticket.objects.filter(pk__in=[]),
        # Beyond a bigint: PostgreSQL's backend finds that no row can match, as for pk__in=[].
        lambda: Ticket.objects.filter(assignee__id=99999999999999999999),
    ],
    ids=["no-ids", "id-beyond-bigint"],
)
def test_a_filter_that_can_match_nothing_is_one_empty_page(eight, paginator, matching_nothing):
    """Django has no SQL for such a query (EmptyResultSet): it counts 0, as `.none()` does."""
    page = paginator(matching_nothing(), 3).page(1)

    assert list(page) == [] and page.paginator.count == 0 and not page.has_next()


@pytest.fixture
def mostly_internal(cast, eight):
    """A ticket with 6 public and 30 internal comments (each an event of its history), next to
    one with 100 public ones: PostgreSQL's statistics say most comments are public."""
    ticket, other = Ticket.objects.filter(pk__in=eight[:2]).order_by("pk")
    for internal, count in ((False, 6), (True, 30)):
        for n in range(count):
            comment_add(ticket=ticket, by=cast["team_agent"], body=f"{n}", internal=internal)
    for n in range(100):
        comment_add(ticket=other, by=cast["team_agent"], body=f"{n}")
    if POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_comment, dispatchdesk_event")
    return ticket


@pytest.mark.parametrize("what", ["comments", "history"])
def test_a_requester_counts_what_they_see_of_a_long_list_not_what_is_hidden(
    client_for, cast, mostly_internal, limit_of_five, what
):
    """Beyond the exact limit, an estimate of "this ticket's public comments" comes from the
    ticket's comments of every kind: the requester's count grew with the internal ones."""
    url = f"{URL}{mostly_internal.pk}/{what}/"

    body = client_for(cast["requester"]).get(url, {"page_size": 2}).json()
    agent_count = client_for(cast["team_agent"]).get(url).json()["count"]

    assert body["count"] == 6  # (the factory's ticket has no "created" event)
    assert agent_count == 36
