"""The ticket list: its filters, ordering and pagination (GET /api/v1/tickets/).

Every filter test has rows that the filter must leave out, so ignoring a filter fails a test.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import AgentFactory, RequesterFactory, TeamFactory
from tickets.choices import Priority as P
from tickets.choices import TicketStatus as S
from tickets.models import Ticket

from .factories import TicketFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"
ERROR_KEYS = {"status", "code", "detail", "fields"}


def ticket(cast, **fields):
    """A ticket of the cast's team and requester unless told otherwise."""
    fields.setdefault("team", cast["team"])
    fields.setdefault("requester", cast["requester"])
    return TicketFactory(**fields)


def listed(client, **params) -> list[int]:
    """The ids the list answers, in order (one page of up to 200)."""
    params.setdefault("page_size", 200)
    response = client.get(URL, params)
    assert response.status_code == 200, response.json()
    body = response.json()
    ids = [row["id"] for row in body["results"]]
    assert body["count"] == len(ids)
    return ids


def ids(*tickets) -> list[int]:
    return [t.pk for t in tickets]


def assert_invalid(response, field: str) -> None:
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == 400
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    assert body["fields"][field] and all(isinstance(m, str) for m in body["fields"][field])


@pytest.fixture
def supervisor(client_for, cast):
    return client_for(cast["supervisor"])


@pytest.fixture
def moment():
    """A whole second in the past, so stored and sent datetimes compare exactly."""
    return timezone.now().replace(microsecond=0) - timedelta(days=10)


# --- status and priority ------------------------------------------------------------------


@pytest.fixture
def one_per_status(cast):
    return {status: ticket(cast, status=status) for status in S.values}


@pytest.mark.parametrize("status", S.values)
def test_status_keeps_only_that_status(supervisor, one_per_status, status):
    assert listed(supervisor, status=status) == [one_per_status[status].pk]


def test_status_is_repeatable(supervisor, one_per_status):
    found = listed(supervisor, status=[S.OPEN, S.NEW])

    assert sorted(found) == sorted(ids(one_per_status[S.OPEN], one_per_status[S.NEW]))


@pytest.mark.parametrize("value", ["bogus", "OPEN", "open,new", "in progress"])
def test_an_unknown_status_is_refused(supervisor, one_per_status, value):
    assert_invalid(supervisor.get(URL, {"status": value}), "status")


def test_one_unknown_status_among_good_ones_is_refused(supervisor, one_per_status):
    assert_invalid(supervisor.get(URL, {"status": [S.OPEN, "bogus"]}), "status")


@pytest.fixture
def one_per_priority(cast):
    return {priority: ticket(cast, priority=priority) for priority in P.values}


@pytest.mark.parametrize("priority", P.values)
def test_priority_keeps_only_that_priority(supervisor, one_per_priority, priority):
    assert listed(supervisor, priority=priority) == [one_per_priority[priority].pk]


def test_priority_is_repeatable(supervisor, one_per_priority):
    found = listed(supervisor, priority=[P.HIGH, P.URGENT])

    assert sorted(found) == sorted(ids(one_per_priority[P.HIGH], one_per_priority[P.URGENT]))


@pytest.mark.parametrize("value", ["critical", "HIGH", "4"])
def test_an_unknown_priority_is_refused(supervisor, one_per_priority, value):
    assert_invalid(supervisor.get(URL, {"priority": value}), "priority")


# --- team ---------------------------------------------------------------------------------


def test_team_keeps_only_that_teams_tickets(supervisor, cast):
    elsewhere = cast["outsider_agent"].teams.get()
    ours = [ticket(cast), ticket(cast)]
    theirs = ticket(cast, team=elsewhere)

    assert sorted(listed(supervisor, team=cast["team"].pk)) == sorted(ids(*ours))
    assert listed(supervisor, team=elsewhere.pk) == [theirs.pk]


def test_a_team_without_tickets_lists_nothing(supervisor, cast):
    ticket(cast)
    empty = TeamFactory(name="Empty")

    assert listed(supervisor, team=empty.pk) == []


@pytest.mark.parametrize("value", ["support", "NaN", "0", "-1"])
def test_a_team_that_is_not_an_id_is_refused(supervisor, cast, value):
    ticket(cast)

    assert_invalid(supervisor.get(URL, {"team": value}), "team")


@pytest.mark.parametrize("suffix", [".5", "e0"])
def test_a_team_id_that_is_not_a_whole_number_is_refused_not_rounded(supervisor, cast, suffix):
    # `2.5` must not quietly mean team 2.
    ticket(cast)

    assert_invalid(supervisor.get(URL, {"team": f"{cast['team'].pk}{suffix}"}), "team")


# --- assignee and requester ---------------------------------------------------------------


@pytest.fixture
def assigned(cast):
    return {
        "to_assignee": ticket(cast, assignee=cast["assignee"]),
        "to_team_agent": ticket(cast, assignee=cast["team_agent"]),
        "to_supervisor": ticket(cast, assignee=cast["supervisor"]),
        "to_no_one": ticket(cast, assignee=None),
    }


def test_assignee_by_id(supervisor, cast, assigned):
    assert listed(supervisor, assignee=cast["assignee"].pk) == [assigned["to_assignee"].pk]


def test_assignee_me_is_the_caller(client_for, cast, assigned):
    assert listed(client_for(cast["supervisor"]), assignee="me") == [assigned["to_supervisor"].pk]
    assert listed(client_for(cast["team_agent"]), assignee="me") == [assigned["to_team_agent"].pk]


def test_assignee_none_is_the_unassigned(supervisor, assigned):
    assert listed(supervisor, assignee="none") == [assigned["to_no_one"].pk]


def test_an_assignee_who_does_not_exist_lists_nothing(supervisor, assigned):
    missing = max(t.assignee_id or 0 for t in Ticket.objects.all()) + 1000

    assert listed(supervisor, assignee=missing) == []


def test_an_empty_assignee_is_no_filter(supervisor, assigned):
    assert sorted(listed(supervisor, assignee="")) == sorted(ids(*assigned.values()))


@pytest.mark.parametrize("value", ["bob", "Me", "NONE", "-1", "1.5", "me,none", "1 2"])
def test_an_assignee_that_is_not_an_id_me_or_none_is_refused(supervisor, assigned, value):
    assert_invalid(supervisor.get(URL, {"assignee": value}), "assignee")


@pytest.mark.parametrize("field", ["assignee", "requester"])
@pytest.mark.parametrize("value", ["²", "1²", "١٢"])
def test_a_person_of_non_ascii_digits_is_refused_not_a_server_error(
    supervisor, assigned, field, value
):
    # str.isdigit() is true for superscripts (which int() cannot parse) and other scripts' digits.
    supervisor.raise_request_exception = False

    assert_invalid(supervisor.get(URL, {field: value}), field)


@pytest.mark.parametrize("field", ["assignee", "requester", "team"])
def test_an_id_beyond_64_bits_is_refused_not_a_server_error(supervisor, cast, field):
    # No row can have such an id; SQLite cannot even be asked (OverflowError).
    ticket(cast, assignee=cast["assignee"])
    supervisor.raise_request_exception = False

    assert_invalid(supervisor.get(URL, {field: "9" * 20}), field)


@pytest.mark.parametrize("field", ["assignee", "requester", "team"])
def test_the_largest_64_bit_id_is_an_unknown_id(supervisor, cast, field):
    ticket(cast, assignee=cast["assignee"])

    assert listed(supervisor, **{field: 2**63 - 1}) == []


@pytest.fixture
def requested(cast):
    return {
        "by_requester": ticket(cast, requester=cast["requester"]),
        "by_other_requester": ticket(cast, requester=cast["other_requester"]),
        "by_supervisor": ticket(cast, requester=cast["supervisor"]),
    }


def test_requester_by_id(supervisor, cast, requested):
    found = listed(supervisor, requester=cast["other_requester"].pk)

    assert found == [requested["by_other_requester"].pk]


def test_requester_me_is_the_caller(client_for, cast, requested):
    assert listed(client_for(cast["supervisor"]), requester="me") == [requested["by_supervisor"].pk]
    assert listed(client_for(cast["requester"]), requester="me") == [requested["by_requester"].pk]


@pytest.mark.parametrize("value", ["none", "alice", "-3"])
def test_a_requester_that_is_not_an_id_or_me_is_refused(supervisor, requested, value):
    # Every ticket has a requester, so `none` is not offered here.
    assert_invalid(supervisor.get(URL, {"requester": value}), "requester")


def test_the_error_names_what_to_send(supervisor, assigned):
    body = supervisor.get(URL, {"assignee": "bob"}).json()

    assert body["status"] == 400
    assert body["code"] == "invalid"
    assert body["detail"]
    assert list(body["fields"]) == ["assignee"]
    assert "me" in body["fields"]["assignee"][0]
    assert "none" in body["fields"]["assignee"][0]


# --- dates --------------------------------------------------------------------------------


@pytest.fixture
def created(cast, moment):
    """Tickets created two days before, one second before, at, and one day after `moment`."""
    return {
        "long_before": ticket(cast, created_at=moment - timedelta(days=2)),
        "just_before": ticket(cast, created_at=moment - timedelta(seconds=1)),
        "at": ticket(cast, created_at=moment),
        "after": ticket(cast, created_at=moment + timedelta(days=1)),
    }


def test_created_after_includes_the_moment_itself(supervisor, created, moment):
    found = listed(supervisor, created_after=moment.isoformat())

    assert found == ids(created["after"], created["at"])


def test_created_before_excludes_the_moment_itself(supervisor, created, moment):
    found = listed(supervisor, created_before=moment.isoformat())

    assert found == ids(created["just_before"], created["long_before"])


def test_created_after_and_before_together_make_a_window(supervisor, created, moment):
    found = listed(
        supervisor,
        created_after=(moment - timedelta(days=1)).isoformat(),
        created_before=(moment + timedelta(hours=1)).isoformat(),
    )

    assert found == ids(created["at"], created["just_before"])


@pytest.mark.parametrize(
    "spelling",
    [
        lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"),
        lambda m: m.astimezone(timezone.get_fixed_timezone(120)).isoformat(),
        lambda m: m.astimezone(timezone.get_fixed_timezone(-330)).isoformat(),
    ],
    ids=["zulu", "plus-two-hours", "minus-five-thirty"],
)
def test_created_after_honours_the_time_zone_sent(supervisor, created, moment, spelling):
    found = listed(supervisor, created_after=spelling(moment))

    assert found == ids(created["after"], created["at"])


@pytest.mark.parametrize("field", ["created_after", "created_before", "due_before"])
@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", "2024-02-30", "12:00"])
def test_a_bad_datetime_is_refused(supervisor, created, field, value):
    assert_invalid(supervisor.get(URL, {field: value}), field)


def test_due_before_is_strictly_before(supervisor, cast, moment):
    due_earlier = ticket(cast, due_at=moment - timedelta(hours=1))
    ticket(cast, due_at=moment)
    ticket(cast, due_at=moment + timedelta(hours=1))
    ticket(cast, due_at=None)

    assert listed(supervisor, due_before=moment.isoformat()) == [due_earlier.pk]


# --- overdue ------------------------------------------------------------------------------


@pytest.fixture
def due(cast):
    now = timezone.now()
    past, future = now - timedelta(hours=1), now + timedelta(days=1)
    rows = {f"past_{status}": ticket(cast, status=status, due_at=past) for status in S.values}
    rows["future_open"] = ticket(cast, status=S.OPEN, due_at=future)
    rows["undated_open"] = ticket(cast, status=S.OPEN, due_at=None)
    return rows


OVERDUE = {"past_new", "past_open", "past_in_progress", "past_on_hold", "past_resolved"}
NOT_OVERDUE = {"past_closed", "past_cancelled", "future_open", "undated_open"}


def names(rows, found) -> set[str]:
    by_id = {t.pk: name for name, t in rows.items()}
    assert len(found) == len(set(found)), found
    return {by_id[pk] for pk in found}


@pytest.mark.parametrize("value", ["true"])
def test_overdue_true_is_past_due_and_still_open_resolved_included(supervisor, due, value):
    assert names(due, listed(supervisor, overdue=value)) == OVERDUE


@pytest.mark.parametrize("value", ["false"])
def test_overdue_false_is_everything_else(supervisor, due, value):
    assert names(due, listed(supervisor, overdue=value)) == NOT_OVERDUE


@pytest.mark.parametrize("value", ["1", "0", "yes", "on", "True", "2"])
def test_overdue_takes_only_true_or_false(supervisor, due, value):
    response = supervisor.get(URL, {"overdue": value})

    assert response.status_code == 400
    assert "overdue" in response.json()["fields"]


def test_is_overdue_in_the_rows_agrees_with_the_filter(supervisor, due):
    rows = supervisor.get(URL, {"page_size": 200}).json()["results"]

    assert {row["id"] for row in rows if row["is_overdue"]} == {due[n].pk for n in OVERDUE}


# --- search -------------------------------------------------------------------------------


def test_search_matches_title_or_description_ignoring_case(supervisor, cast):
    in_title = ticket(cast, title="Printer on fire", description="Smoke everywhere")
    in_description = ticket(cast, title="Help", description="The PRINTER jams daily")
    ticket(cast, title="VPN down", description="Cannot connect")
    ticket(cast, title="Print queue", description="Stuck jobs")  # "print" but not "printer"

    for term in ["printer", "PRINTER", "pRiNtEr", "rinte"]:
        found = listed(supervisor, search=term)
        assert sorted(found) == sorted(ids(in_title, in_description)), term


def test_search_treats_wildcards_literally(supervisor, cast):
    percent = ticket(cast, title="50% off coupon", description="")
    ticket(cast, title="500 off coupon", description="")
    underscore = ticket(cast, title="error in mail_queue", description="")
    ticket(cast, title="error in mailxqueue", description="")

    assert listed(supervisor, search="50%") == [percent.pk]
    assert listed(supervisor, search="l_q") == [underscore.pk]


def test_search_without_a_match_lists_nothing(supervisor, cast):
    ticket(cast, title="Printer", description="jams")

    assert listed(supervisor, search="zebra") == []


# --- ordering -----------------------------------------------------------------------------


@pytest.fixture
def varied(cast, moment):
    """Four tickets whose created_at, updated_at, priority and due_at orders all differ.

    Created in id order a, b, c, d:
      created_at: c < a < d < b
      updated_at: d < c < b < a
      priority:   b=low < d=normal < a=high < c=urgent   (alphabetically: a, b, d, c)
      due_at:     a < b < c < d  ... on purpose not the same as created_at
    """
    hours = timedelta(hours=1)
    spec = {
        "a": (1, 4, P.HIGH, 1),
        "b": (4, 3, P.LOW, 2),
        "c": (0, 2, P.URGENT, 3),
        "d": (2, 1, P.NORMAL, 4),
    }
    rows = {
        name: ticket(cast, created_at=moment + c * hours, priority=p, due_at=moment + d * hours)
        for name, (c, _, p, d) in spec.items()
    }
    for name, (_, u, _, _) in spec.items():
        Ticket.objects.filter(pk=rows[name].pk).update(updated_at=moment + u * hours)
    return rows


ORDERS = {
    None: "bdac",  # newest first by default
    "created_at": "cadb",
    "-created_at": "bdac",
    "updated_at": "dcba",
    "-updated_at": "abcd",
    "priority": "bdac",
    "-priority": "cadb",
    "due_at": "abcd",
    "-due_at": "dcba",
}


@pytest.mark.parametrize(("ordering", "expected"), ORDERS.items(), ids=[str(k) for k in ORDERS])
def test_ordering(supervisor, varied, ordering, expected):
    params = {} if ordering is None else {"ordering": ordering}

    assert listed(supervisor, **params) == [varied[name].pk for name in expected]


def test_minus_priority_lists_urgent_first_not_alphabetically(supervisor, one_per_priority):
    found = listed(supervisor, ordering="-priority")

    assert found == [one_per_priority[p].pk for p in (P.URGENT, P.HIGH, P.NORMAL, P.LOW)]


def test_tickets_without_a_due_date_come_after_the_dated_ones_by_due_at(supervisor, cast, moment):
    # "Due soonest first" must not open with tickets that are never due, on any database
    # (SQLite sorts NULL first in ascending order, PostgreSQL last).
    undated = ticket(cast, due_at=None)
    later = ticket(cast, due_at=moment + timedelta(days=2))
    sooner = ticket(cast, due_at=moment + timedelta(days=1))

    assert listed(supervisor, ordering="due_at") == ids(sooner, later, undated)


def test_ordering_by_two_fields(supervisor, cast, moment):
    low_old = ticket(cast, priority=P.LOW, created_at=moment)
    high_old = ticket(cast, priority=P.HIGH, created_at=moment)
    low_new = ticket(cast, priority=P.LOW, created_at=moment + timedelta(hours=1))
    high_new = ticket(cast, priority=P.HIGH, created_at=moment + timedelta(hours=1))

    found = listed(supervisor, ordering="-priority,created_at")

    assert found == ids(high_old, high_new, low_old, low_new)


@pytest.mark.parametrize(
    "value",
    [
        "title",
        "-status",
        "priority_rank",
        "id",
        "created",
        "created_at,bogus",
        "priority,",
        ",",
        ",priority",
    ],
)
def test_an_unknown_ordering_is_refused(supervisor, varied, value):
    assert_invalid(supervisor.get(URL, {"ordering": value}), "ordering")


# Far above any id the sequence hands out in a test run; inserted out of id order so that
# the database's physical order is no stand-in for ordering by id.
TIED_IDS = [9_000_004, 9_000_001, 9_000_006, 9_000_000, 9_000_005, 9_000_002, 9_000_003]


@pytest.fixture
def tied(cast, moment):
    """Seven tickets equal in every orderable field, so only the id can order them."""
    for pk in TIED_IDS:
        ticket(
            cast,
            id=pk,
            priority=P.HIGH,
            created_at=moment,
            due_at=moment + timedelta(days=1),
        )
    Ticket.objects.filter(pk__in=TIED_IDS).update(updated_at=moment)
    return sorted(TIED_IDS)


def walk(client, params) -> list[int]:
    """Every id on every page, following the `next` links."""
    response = client.get(URL, {**params, "page_size": 2})
    found, pages = [], 0
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        found += [row["id"] for row in body["results"]]
        pages += 1
        assert pages <= 10, "the next links do not end"
        if body["next"] is None:
            return found
        response = client.get(body["next"])


@pytest.mark.parametrize(
    "narrowed",
    # A filter changes the query plan: the tie order must not depend on which index is used.
    [{}, {"status": [S.NEW, S.OPEN]}, {"team": "team", "overdue": "true"}],
    ids=["all", "by-status", "by-team-overdue"],
)
@pytest.mark.parametrize("ordering", list(ORDERS), ids=[str(k) for k in ORDERS])
def test_ties_are_broken_by_id_across_pages(supervisor, cast, tied, ordering, narrowed):
    params = {} if ordering is None else {"ordering": ordering}
    params |= {k: cast["team"].pk if v == "team" else v for k, v in narrowed.items()}
    descending = ordering is None or ordering.startswith("-")

    found = walk(supervisor, params)

    assert sorted(found) == tied  # every ticket exactly once: no duplicates, none missing
    assert found == (tied[::-1] if descending else tied)
    assert walk(supervisor, params) == found  # and the same every time


def test_ties_within_a_primary_order_are_broken_by_id(supervisor, cast, moment):
    rows = {
        (created, n): ticket(cast, created_at=moment + timedelta(hours=created))
        for created in (1, 0, 2)
        for n in range(2)
    }

    found = walk(supervisor, {"ordering": "created_at"})

    expected = sorted(rows, key=lambda key: (key[0], rows[key].pk))
    assert found == [rows[key].pk for key in expected]


# --- combinations -------------------------------------------------------------------------


def test_status_and_assignee_me_combine(client_for, cast):
    mine_open = ticket(cast, status=S.OPEN, assignee=cast["assignee"])
    mine_in_progress = ticket(cast, status=S.IN_PROGRESS, assignee=cast["assignee"])
    ticket(cast, status=S.NEW, assignee=cast["assignee"])
    ticket(cast, status=S.OPEN, assignee=cast["team_agent"])
    ticket(cast, status=S.OPEN, assignee=None)
    agent = client_for(cast["assignee"])

    assert listed(agent, status=S.OPEN, assignee="me") == [mine_open.pk]
    found = listed(agent, status=[S.OPEN, S.IN_PROGRESS], assignee="me")
    assert sorted(found) == sorted(ids(mine_open, mine_in_progress))


def test_many_filters_combine(supervisor, cast, moment):
    elsewhere = cast["outsider_agent"].teams.get()
    fields = {"status": S.OPEN, "priority": P.URGENT, "title": "Disk full", "created_at": moment}
    fields["description"] = ""
    match = ticket(cast, **fields)
    ticket(cast, **{**fields, "status": S.NEW})
    ticket(cast, **{**fields, "priority": P.LOW})
    ticket(cast, **{**fields, "title": "Fan noise"})
    ticket(cast, **{**fields, "team": elsewhere})
    ticket(cast, **{**fields, "created_at": moment - timedelta(days=1)})

    found = listed(
        supervisor,
        status=S.OPEN,
        priority=[P.URGENT, P.HIGH],
        team=cast["team"].pk,
        search="disk",
        created_after=moment.isoformat(),
    )

    assert found == [match.pk]


# --- pagination ---------------------------------------------------------------------------


def test_a_small_page_links_to_the_next(supervisor, cast, moment):
    rows = [ticket(cast, created_at=moment + timedelta(minutes=n)) for n in range(5)]
    newest_first = ids(*reversed(rows))

    first = supervisor.get(URL, {"page_size": 2}).json()
    assert first["count"] == 5
    assert [row["id"] for row in first["results"]] == newest_first[:2]
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=2" in first["next"]

    second = supervisor.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == newest_first[2:4]
    assert second["previous"] is not None

    last = supervisor.get(second["next"]).json()
    assert [row["id"] for row in last["results"]] == newest_first[4:]
    assert last["next"] is None


def test_next_links_keep_the_filters(supervisor, cast):
    wanted = [ticket(cast, status=S.OPEN) for _ in range(3)]
    for _ in range(3):
        ticket(cast, status=S.NEW)

    found = walk(supervisor, {"status": S.OPEN})

    assert sorted(found) == sorted(ids(*wanted))


def test_page_size_is_capped_at_200_and_defaults_to_50(supervisor, cast):
    TicketFactory.create_batch(201, team=cast["team"], requester=cast["requester"])

    capped = supervisor.get(URL, {"page_size": 1000}).json()
    assert capped["count"] == 201
    assert len(capped["results"]) == 200
    assert capped["next"] is not None

    rest = supervisor.get(capped["next"]).json()
    assert len(rest["results"]) == 1
    assert {row["id"] for row in capped["results"] + rest["results"]} == set(
        Ticket.objects.values_list("pk", flat=True)
    )

    default = supervisor.get(URL).json()
    assert len(default["results"]) == 50


def test_a_page_past_the_end_is_not_found(supervisor, cast):
    ticket(cast)

    response = supervisor.get(URL, {"page": 999})

    assert response.status_code == 404
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == 404
    assert body["code"] == "not_found"


def test_an_empty_list_is_one_empty_page(supervisor, cast):
    ticket(cast, status=S.NEW)

    body = supervisor.get(URL, {"status": S.CLOSED}).json()

    assert body == {"count": 0, "next": None, "previous": None, "results": []}


# --- visibility under filters -------------------------------------------------------------


def test_a_requester_filtering_by_another_requester_sees_nothing(client_for, cast):
    ticket(cast, requester=cast["requester"])
    ticket(cast, requester=cast["other_requester"])
    client = client_for(cast["requester"])

    body = client.get(URL, {"requester": cast["other_requester"].pk}).json()

    assert body["count"] == 0
    assert body["results"] == []


def test_a_requester_filtering_by_team_sees_only_their_own(client_for, cast):
    own = ticket(cast, requester=cast["requester"])
    ticket(cast, requester=cast["other_requester"])
    ticket(cast, requester=RequesterFactory())

    assert listed(client_for(cast["requester"]), team=cast["team"].pk) == [own.pk]


def test_an_agent_filtering_by_another_team_sees_none_of_it(client_for, cast):
    for status in (S.NEW, S.OPEN):
        ticket(cast, status=status, assignee=cast["assignee"])
    outsider = client_for(cast["outsider_agent"])

    assert listed(outsider, team=cast["team"].pk) == []
    assert listed(outsider, assignee=cast["assignee"].pk) == []
    assert listed(outsider, status=S.OPEN, team=cast["team"].pk) == []


def test_an_agent_filtering_by_another_team_sees_only_what_is_assigned_to_them(client_for, cast):
    lone_agent = AgentFactory()
    mine = ticket(cast, assignee=lone_agent)
    ticket(cast, assignee=cast["assignee"])
    ticket(cast)

    assert listed(client_for(lone_agent), team=cast["team"].pk) == [mine.pk]


# --- query count --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{}, {"status": [S.NEW, S.OPEN], "overdue": "false", "search": "t", "ordering": "-priority"}],
    ids=["plain", "filtered"],
)
@pytest.mark.parametrize("actor", ["supervisor", "team_agent"])
def test_the_query_count_does_not_grow_with_the_page(client_for, cast, actor, params):
    elsewhere = cast["outsider_agent"].teams.get()
    for n in range(60):
        ticket(
            cast,
            status=[S.NEW, S.OPEN][n % 2],
            title=f"Ticket {n}",
            team=cast["team"],
            requester=[cast["requester"], cast["other_requester"]][n % 2],
            assignee=[cast["assignee"], cast["team_agent"], None][n % 3],
        )
    ticket(cast, team=elsewhere)
    client = client_for(cast[actor])

    counts = {}
    for size in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, {**params, "page_size": size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        counts[size] = len(queries)

    assert counts[5] == counts[50], counts
