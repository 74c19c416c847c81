"""The Django admin back office, driven as a supervisor's browser drives it.

Every test logs in with a real session (`client.force_login`), reads the pages the admin renders
and posts what those pages would post; then it checks the database and the history, because the
admin must apply the same rules and write the same history as the API.
"""

import html
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as account_services
from accounts.choices import Role
from accounts.models import Team, User
from accounts.services import LAST_ADMIN, NOT_A_WORKER, team_update, user_update
from accounts.tests.factories import (
    AdminFactory,
    AgentFactory,
    RequesterFactory,
    SupervisorFactory,
    TeamFactory,
)
from dispatchdesk import workflow
from dispatchdesk.admin import HISTORY_ANCHOR
from dispatchdesk.etags import etag_for
from dispatchdesk.models import Event, EventType, IdempotencyKey
from tickets.choices import Priority, TicketStatus
from tickets.models import Comment, Ticket
from tickets.services import ticket_update
from tickets.tests.factories import TicketFactory
from tickets.tests.test_search import plan
from workorders.choices import WorkOrderStatus
from workorders.models import ChecklistItem, TimeEntry, WorkOrder
from workorders.services import checklist_update, time_entry_update, work_order_update
from workorders.tests.factories import (
    ChecklistItemFactory,
    TimeEntryFactory,
    WorkOrderFactory,
)

pytestmark = pytest.mark.django_db

TICKETS = "/admin/tickets/ticket/"
WORK_ORDERS = "/admin/workorders/workorder/"
EVENTS_PREFIX = "dispatchdesk-event-content_type-object_id"


# What a browser would do with the pages


class FormReader(HTMLParser):
    """The fields a browser would submit from the form with the given id."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.textarea: str | None = None
        self.text = ""
        self.select: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self.fields.append((name, attrs.get("value") or "on"))
                return
            self.fields.append((name, attrs.get("value") or ""))
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""
        elif tag == "select" and name:
            self.select = {"name": name, "multiple": "multiple" in attrs, "first": None, "on": []}
        elif tag == "option" and self.select is not None:
            value = attrs.get("value", "")
            if self.select["first"] is None:
                self.select["first"] = value
            if "selected" in attrs:
                self.select["on"].append(value)

    def handle_data(self, data):
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea is not None:
            # Browsers drop the newline that Django writes right after <textarea>.
            text = self.text[1:] if self.text.startswith("\n") else self.text
            self.fields.append((self.textarea, text))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            chosen = self.select["on"]
            if not chosen and not self.select["multiple"] and self.select["first"] is not None:
                chosen = [self.select["first"]]
            self.fields += [(self.select["name"], value) for value in chosen]
            self.select = None


def form_data(response, form_id: str) -> dict:
    """The rendered form `form_id` as POST data: one string per field, a list when repeated."""
    reader = FormReader(form_id)
    reader.feed(response.content.decode())
    assert reader.fields, f"no form #{form_id} on the page"
    data: dict = {}
    for name, value in reader.fields:
        if name in data:
            data[name] = (
                [*data[name], value] if isinstance(data[name], list) else [data[name], value]
            )
        else:
            data[name] = value
    return data


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def errors_of(response) -> list[str]:
    return [text for level, text in messages_of(response) if level == "error"]


def successes_of(response) -> list[str]:
    return [text for level, text in messages_of(response) if level == "success"]


def history(obj) -> list[tuple[str, int | None, dict]]:
    return [(e.type, e.actor_id, e.data) for e in Event.objects.for_object(obj)]


def change_url(obj) -> str:
    base = TICKETS if isinstance(obj, Ticket) else WORK_ORDERS
    return f"{base}{obj.pk}/change/"


def transition_url(obj) -> str:
    return change_url(obj).replace("/change/", "/transition/")


def assign_url(obj) -> str:
    return change_url(obj).replace("/change/", "/assign/")


def shown_ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def offered_transitions(response) -> list[str]:
    return re.findall(r'name="name" value="(\w+)"', response.content.decode())


# Who is who


@pytest.fixture
def team():
    return TeamFactory(name="Support")


@pytest.fixture
def other_team():
    return TeamFactory(name="Facilities")


@pytest.fixture
def supervisor(team):
    return SupervisorFactory(teams=[team], full_name="Sam Supervisor")


@pytest.fixture
def agent(team):
    return AgentFactory(teams=[team], full_name="Alex Agent")


@pytest.fixture
def outsider(other_team):
    return AgentFactory(teams=[other_team], full_name="Olly Outsider")


@pytest.fixture
def admin_user():
    return AdminFactory(full_name="Ada Admin")


@pytest.fixture
def as_supervisor(client, supervisor):
    client.force_login(supervisor)
    return client


@pytest.fixture
def as_admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def open_ticket(team, agent):
    return TicketFactory(team=team, status=TicketStatus.OPEN, assignee=agent)


@pytest.fixture
def work_order(team, agent):
    return WorkOrderFactory(team=team, status=WorkOrderStatus.IN_PROGRESS, assignee=agent)


# Who may use the admin


@pytest.mark.parametrize("role", [Role.REQUESTER, Role.AGENT])
def test_requesters_and_agents_are_sent_to_the_login_page(client, team, agent, open_ticket, role):
    user = RequesterFactory() if role == Role.REQUESTER else AgentFactory(teams=[team])
    client.force_login(user)

    for url in ["/admin/", TICKETS, change_url(open_ticket)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/?next="), url

    fired = client.post(transition_url(open_ticket), {"name": "hold", "note": "mine now"})
    assigned = client.post(assign_url(open_ticket), {"assignee": user.pk})

    assert fired.status_code == assigned.status_code == 302
    assert fired["Location"].startswith("/admin/login/")
    open_ticket.refresh_from_db()
    assert (open_ticket.status, open_ticket.assignee) == (TicketStatus.OPEN, agent)
    assert history(open_ticket) == []


@pytest.mark.parametrize("who", ["supervisor", "admin_user"])
def test_supervisors_and_admins_use_the_admin(client, request, open_ticket, work_order, who):
    client.force_login(request.getfixturevalue(who))

    for url in ["/admin/", TICKETS, change_url(open_ticket), WORK_ORDERS, change_url(work_order)]:
        assert client.get(url).status_code == 200, url
    assert history(open_ticket) == []


# Change lists


@pytest.fixture
def board(team, other_team, agent, supervisor):
    """Tickets that each filter tells apart."""
    now = timezone.now()
    return {
        "urgent": TicketFactory(
            team=team,
            status=TicketStatus.OPEN,
            priority=Priority.URGENT,
            assignee=agent,
            external_ref="HD-1042",
        ),
        "printer": TicketFactory(
            team=other_team,
            title="Printer on fire",
            requester=RequesterFactory(email="pat.requester@example.com"),
        ),
        "overdue": TicketFactory(
            team=team,
            status=TicketStatus.IN_PROGRESS,
            assignee=supervisor,
            due_at=now - timedelta(hours=2),
        ),
        "closed_late": TicketFactory(
            team=team, status=TicketStatus.CLOSED, due_at=now - timedelta(days=3)
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"urgent", "printer", "overdue", "closed_late"}),
        ("status__exact=open", {"urgent"}),
        ("status__exact=closed", {"closed_late"}),
        ("priority__exact=urgent", {"urgent"}),
        ("team__id__exact={other_team}", {"printer"}),
        ("assignee__id__exact={agent}", {"urgent"}),
        ("assignee__id__exact={supervisor}", {"overdue"}),
        ("overdue=yes", {"overdue"}),
        ("overdue=no", {"urgent", "printer", "closed_late"}),
        ("q=printer", {"printer"}),
        ("q=rinte", {"printer"}),  # one term: anywhere in the text, as the API's search
        ("q=fire+printer", {"printer"}),  # several: each word, in any order
        ("q=HD-1042", {"urgent"}),  # the exact external reference
        ("q=HD-104", set()),
        ("q=pat.requester@example.com", {"printer"}),
        ("q=pat.requester@", {"printer"}),
        ("status__exact=in_progress&overdue=yes", {"overdue"}),
    ],
)
def test_ticket_change_list_filters_and_search(
    as_supervisor, board, other_team, agent, supervisor, query, expected
):
    url = (
        TICKETS
        + "?"
        + query.format(other_team=other_team.pk, agent=agent.pk, supervisor=supervisor.pk)
    )

    response = as_supervisor.get(url)

    assert response.status_code == 200
    assert shown_ids(response) == {board[name].pk for name in expected}


def test_ticket_change_list_offers_every_filter(as_supervisor, board, other_team, agent):
    page = as_supervisor.get(TICKETS).content.decode()

    for link in [
        "?status__exact=open",
        "?priority__exact=urgent",
        f"?team__id__exact={other_team.pk}",
        f"?assignee__id__exact={agent.pk}",
        "?overdue=yes",
        "?overdue=no",
    ]:
        assert f'href="{link}"' in page, link
    assert 'name="q"' in page


@pytest.mark.parametrize("url", [TICKETS, WORK_ORDERS], ids=["tickets", "work_orders"])
def test_the_created_filter_narrows_the_list(as_supervisor, team, url):
    make = TicketFactory if url == TICKETS else WorkOrderFactory
    recent = make(team=team)
    old = make(team=team, created_at=timezone.now() - timedelta(days=400))
    page = as_supervisor.get(url).content.decode()

    links = dict(
        (label, html.unescape(href))
        for href, label in re.findall(r'<a href="(\?created_at__[^"]+)">([^<]+)</a>', page)
    )

    assert set(links) >= {"Today", "Past 7 days", "This month", "This year"}
    assert shown_ids(as_supervisor.get(url + links["Past 7 days"])) == {recent.pk}
    assert shown_ids(as_supervisor.get(url)) == {recent.pk, old.pk}


def test_the_assignee_filter_offers_the_people_work_can_go_to(as_supervisor, board, agent):
    gone = AgentFactory(is_active=False)
    requester = board["printer"].requester

    page = as_supervisor.get(TICKETS).content.decode()

    offered = {int(pk) for pk in re.findall(r'href="\?assignee__id__exact=(\d+)"', page)}
    assert agent.pk in offered
    assert {requester.pk, gone.pk}.isdisjoint(offered)
    assert 'href="?assignee__isnull=True"' in page  # and unassigned work


@pytest.mark.parametrize("url", [TICKETS, WORK_ORDERS], ids=["tickets", "work_orders"])
@pytest.mark.parametrize("query", ["", "?status__exact=open", "?q=printer", "?q=wifi+slow"])
def test_change_lists_do_not_read_the_whole_table(as_supervisor, board, url, query):
    """No filter's choices, total or count comes from a scan of every row: on PostgreSQL the
    count is the probe of 1,001 ids or the planner's estimate, as in the API's lists."""
    as_supervisor.get(url)  # warm up: content types, session
    with CaptureQueriesContext(connection) as queries:
        assert as_supervisor.get(url + query).status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    table = "tickets_ticket" if url == TICKETS else "workorders_workorder"

    assert not [q for q in sql if "DISTINCT" in q.upper()]  # related-only filter, dates
    assert not [q for q in sql if "_TRUNC" in q.upper()]  # a date hierarchy's years
    counts = [q for q in sql if "COUNT(" in q.upper() and table in q]
    if connection.vendor == "postgresql":
        assert counts == []
        # The search is the API's, on the indexed text (not a LIKE on each column).
        assert not [q for q in sql if f'UPPER("{table}"."description"' in q]
    else:
        assert len(counts) <= 1  # SQLite counts the filtered rows exactly; never the total too


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        (TICKETS, "assignee__id__exact"),
        (TICKETS, "team__id__exact"),
        (TICKETS, "requester__id__exact"),
        (TICKETS, "id__exact"),
        (WORK_ORDERS, "ticket__id__exact"),
        (WORK_ORDERS, "assignee__id__exact"),
    ],
)
def test_an_id_filter_beyond_any_id_lists_nothing(as_supervisor, board, url, parameter):
    """An id no column can hold matches nothing (PostgreSQL's backend has no SQL for it)."""
    WorkOrderFactory(team=board["urgent"].team, ticket=board["urgent"])

    response = as_supervisor.get(f"{url}?{parameter}=99999999999999999999")

    assert response.status_code == 200
    assert shown_ids(response) == set()
    assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("url", [TICKETS, WORK_ORDERS])
def test_the_due_column_shows_the_time_of_the_installation(as_supervisor, team, settings, url):
    """DJANGO_TIME_ZONE, as the change page and the other times of the list show it."""
    settings.TIME_ZONE = "America/New_York"
    due = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
    factory = TicketFactory if url == TICKETS else WorkOrderFactory
    factory(team=team, due_at=due)

    page = as_supervisor.get(url).content.decode()

    assert "2030-01-15 07:00" in page
    assert "2030-01-15 12:00" not in page


def test_only_overdue_rows_are_marked(as_supervisor, team):
    now = timezone.now()
    TicketFactory(team=team, status=TicketStatus.OPEN, due_at=now + timedelta(hours=4))
    TicketFactory(team=team, status=TicketStatus.CANCELLED, due_at=now - timedelta(days=1))
    TicketFactory(team=team, status=TicketStatus.NEW, due_at=None)

    assert "dd-overdue" not in as_supervisor.get(TICKETS).content.decode()

    late = TicketFactory(team=team, status=TicketStatus.ON_HOLD, due_at=now - timedelta(minutes=5))
    page = as_supervisor.get(TICKETS).content.decode()

    assert page.count("dd-overdue") == 1
    row = page[page.index(f"{TICKETS}{late.pk}/change/") :]
    assert row.index("dd-overdue") < row.index("</tr>")


def make_tickets(count: int) -> None:
    for _ in range(count):
        team = TeamFactory()
        TicketFactory(team=team, status=TicketStatus.OPEN, assignee=AgentFactory(teams=[team]))


def make_work_orders(count: int) -> None:
    for _ in range(count):
        team = TeamFactory()
        work_order = WorkOrderFactory(
            team=team,
            assignee=AgentFactory(teams=[team]),
            ticket=TicketFactory(team=team, status=TicketStatus.OPEN),
        )
        TimeEntryFactory(work_order=work_order)


def queries_for(client, url: str) -> tuple[int, set[int]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), shown_ids(response)


@pytest.mark.parametrize(
    ("url", "make", "model"),
    [(TICKETS, make_tickets, Ticket), (WORK_ORDERS, make_work_orders, WorkOrder)],
    ids=["tickets", "work_orders"],
)
def test_change_list_queries_do_not_grow_with_the_rows(as_supervisor, url, make, model):
    make(10)
    as_supervisor.get(url)  # warm up: content types, session
    ten, shown = queries_for(as_supervisor, url)
    assert len(shown) == 10

    make(90)
    hundred, shown = queries_for(as_supervisor, url)

    assert len(shown) == model.objects.count() == 100
    assert hundred == ten


def test_work_order_change_list_shows_actual_minutes_and_filters(as_supervisor, team, agent):
    late = WorkOrderFactory(team=team, assignee=agent, due_at=timezone.now() - timedelta(hours=1))
    TimeEntryFactory(work_order=late, minutes=25)
    TimeEntryFactory(work_order=late, minutes=20)
    done = WorkOrderFactory(team=team, status=WorkOrderStatus.VERIFIED)

    response = as_supervisor.get(WORK_ORDERS)
    rows = {wo.pk: wo.actual_minutes for wo in response.context["cl"].result_list}

    assert rows == {late.pk: 45, done.pk: 0}
    assert response.content.decode().count("dd-overdue") == 1
    assert shown_ids(as_supervisor.get(f"{WORK_ORDERS}?overdue=yes")) == {late.pk}
    assert shown_ids(as_supervisor.get(f"{WORK_ORDERS}?status__exact=verified")) == {done.pk}
    assert shown_ids(as_supervisor.get(f"{WORK_ORDERS}?assignee__id__exact={agent.pk}")) == {
        late.pk
    }


@pytest.mark.parametrize(
    ("url", "make"),
    [(TICKETS, TicketFactory), (WORK_ORDERS, WorkOrderFactory)],
)
def test_the_priority_column_sorts_by_urgency(as_supervisor, team, url, make):
    for priority in (Priority.HIGH, Priority.LOW, Priority.URGENT, Priority.NORMAL):
        make(team=team, priority=priority)
    column = 4  # id, title, status, priority: the admin numbers its columns from 1

    def shown(order):
        response = as_supervisor.get(f"{url}?o={order}")
        return [obj.priority for obj in response.context["cl"].result_list]

    assert shown(f"-{column}") == ["urgent", "high", "normal", "low"]
    assert shown(str(column)) == ["low", "normal", "high", "urgent"]


def test_change_lists_show_statuses_and_priorities_by_their_labels(as_supervisor, team):
    TicketFactory(team=team, status=TicketStatus.IN_PROGRESS, priority=Priority.URGENT)

    page = as_supervisor.get(TICKETS).content.decode()

    assert '<span class="dd-status dd-in_progress">In progress</span>' in page
    assert ">Urgent<" in page


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
@pytest.mark.parametrize(
    ("model", "term", "indexes"),
    [
        (Ticket, "printer", ["ticket_search_text_idx", "ticket_external_ref_unique"]),
        (Ticket, "printer fire", ["ticket_search_words_idx"]),
        (Ticket, "pat@example.com", ["ticket_requester_team_idx"]),
        (WorkOrder, "boiler", ["workorder_search_text_idx", "workorder_location_text_idx"]),
    ],
)
def test_on_postgresql_every_part_of_the_admin_search_has_an_index(
    board, supervisor, model, term, indexes
):
    RequesterFactory(email="pat@example.com")
    request = RequestFactory().get("/")
    request.user = supervisor
    found, _ = admin.site._registry[model].get_search_results(request, model.objects.all(), term)

    shown = plan(found.order_by())

    assert "Seq Scan" not in shown  # PostgreSQL's only choice when an OR has no index
    for index in indexes:
        assert index in shown


def test_searching_a_whole_email_domain_finds_every_requesters_tickets(
    as_supervisor, team, monkeypatch
):
    monkeypatch.setattr(admin.site._registry[Ticket], "requester_ids_up_to", 2)
    mine = {
        TicketFactory(team=team, requester=RequesterFactory(email=f"r{n}@client.example")).pk
        for n in range(3)
    }
    TicketFactory(team=team, requester=RequesterFactory(email="someone@elsewhere.example"))

    assert shown_ids(as_supervisor.get(f"{TICKETS}?q=@client.example")) == mine
    assert shown_ids(as_supervisor.get(f"{TICKETS}?q=r1@client.example")) == {sorted(mine)[1]}


def test_work_order_search_finds_titles_locations_and_references(as_supervisor, team):
    boiler = WorkOrderFactory(team=team, title="Service the boiler", location="Plant room B")
    pump = WorkOrderFactory(team=team, title="Replace pump seal", external_ref="PM-77")

    def found(term):
        return shown_ids(as_supervisor.get(f"{WORK_ORDERS}?q={term}"))

    assert found("boiler") == {boiler.pk}
    assert found("room+b") == {boiler.pk}  # part of the location
    assert found("PM-77") == {pump.pk}
    assert found("seal+replace") == {pump.pk}


# The change page: status read-only, transition buttons


@pytest.mark.parametrize(
    ("status", "assigned", "expected"),
    [
        (TicketStatus.NEW, False, {"triage", "cancel"}),
        (TicketStatus.OPEN, False, {"hold", "resolve", "cancel"}),
        (TicketStatus.OPEN, True, {"hold", "resolve", "start", "cancel"}),
        (TicketStatus.RESOLVED, True, {"close", "reopen"}),
        (TicketStatus.CLOSED, True, {"reopen"}),
    ],
)
def test_change_page_offers_the_transitions_open_to_the_supervisor(
    as_supervisor, team, agent, status, assigned, expected
):
    ticket = TicketFactory(team=team, status=status, assignee=agent if assigned else None)

    response = as_supervisor.get(change_url(ticket))

    assert response.status_code == 200
    assert set(offered_transitions(response)) == expected
    assert "status" not in response.context["adminform"].form.fields
    assert 'name="status"' not in response.content.decode()
    assert "status" not in form_data(response, "ticket_form")
    assert history(ticket) == []


def test_change_page_says_why_a_transition_is_not_offered(as_supervisor, team, agent):
    ticket = TicketFactory(team=team, status=TicketStatus.OPEN)
    pump = WorkOrderFactory(team=team, ticket=ticket, title="Pump", status=WorkOrderStatus.OPEN)

    response = as_supervisor.get(change_url(ticket))

    assert "resolve" not in offered_transitions(response)
    assert "start" not in offered_transitions(response)
    blocked = {t["name"]: t["unmet"] for t in response.context["blocked_transitions"]}
    assert blocked == {
        "resolve": [f"linked work orders are still active: #{pump.pk} Pump (open)"],
        "start": ["it has no assignee"],
    }
    page = html.unescape(response.content.decode())
    assert "Not yet: start → in_progress, because it has no assignee." in page


def test_a_terminal_ticket_has_no_assign_form(as_supervisor, team, agent):
    ticket = TicketFactory(team=team, status=TicketStatus.CANCELLED, assignee=agent)

    page = as_supervisor.get(change_url(ticket)).content.decode()

    assert 'class="dd-assign"' not in page
    assert "No transition is open to you from here." in page


def test_firing_a_transition_from_the_change_page(as_supervisor, supervisor, open_ticket):
    response = as_supervisor.post(
        transition_url(open_ticket), {"name": "start", "note": "On it", "fire": "start"}
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(open_ticket)
    assert successes_of(response) == ["Fired start: the ticket is now in progress."]
    assert errors_of(response) == []
    open_ticket.refresh_from_db()
    assert open_ticket.status == TicketStatus.IN_PROGRESS
    assert open_ticket.updated_by == supervisor
    page = as_supervisor.get(change_url(open_ticket)).content.decode()
    assert '<span class="dd-status" id="current-status">In progress</span>' in page
    assert history(open_ticket) == [
        (
            EventType.STATUS_CHANGED,
            supervisor.pk,
            {"transition": "start", "from": "open", "to": "in_progress", "note": "On it"},
        )
    ]


def test_resolving_from_the_change_page_stores_the_resolution(
    as_supervisor, supervisor, open_ticket
):
    response = as_supervisor.post(
        transition_url(open_ticket), {"name": "resolve", "resolution": "Replaced toner", "note": ""}
    )

    assert errors_of(response) == []
    open_ticket.refresh_from_db()
    assert (open_ticket.status, open_ticket.resolution) == (TicketStatus.RESOLVED, "Replaced toner")
    assert open_ticket.resolved_at is not None
    [(kind, actor, data)] = history(open_ticket)
    assert (kind, actor, data["transition"], data["resolution"]) == (
        EventType.STATUS_CHANGED,
        supervisor.pk,
        "resolve",
        "Replaced toner",
    )


@pytest.mark.parametrize(
    ("posted", "missing"),
    [
        ({"name": "hold", "note": ""}, "note"),
        ({"name": "hold"}, "note"),
        ({"name": "resolve", "resolution": "   ", "note": "done"}, "resolution"),
        ({"name": "resolve", "note": "done"}, "resolution"),
        ({"name": "cancel", "note": ""}, "note"),
    ],
)
def test_a_missing_required_input_is_an_error_message(as_supervisor, open_ticket, posted, missing):
    response = as_supervisor.post(transition_url(open_ticket), posted)

    assert response.status_code == 302
    [error] = errors_of(response)
    assert error.startswith(f"{missing}:")
    open_ticket.refresh_from_db()
    assert (open_ticket.status, open_ticket.resolution) == (TicketStatus.OPEN, "")
    assert history(open_ticket) == []


@pytest.mark.parametrize(
    ("status", "posted", "says"),
    [
        (TicketStatus.NEW, {"name": "resolve", "resolution": "x"}, "Cannot resolve"),
        (TicketStatus.NEW, {"name": "close"}, "Cannot close"),
        (TicketStatus.CLOSED, {"name": "triage"}, "Cannot triage"),
        (TicketStatus.OPEN, {"name": "explode"}, "Unknown transition"),
        (TicketStatus.OPEN, {"note": "no name"}, "name:"),
    ],
)
def test_a_transition_not_open_from_here_is_an_error_message(
    as_supervisor, team, status, posted, says
):
    ticket = TicketFactory(team=team, status=status)

    response = as_supervisor.post(transition_url(ticket), posted)

    assert response.status_code == 302
    assert response["Location"] == change_url(ticket)
    [error] = errors_of(response)
    assert says in error
    ticket.refresh_from_db()
    assert ticket.status == status
    assert history(ticket) == []


def test_transition_and_assign_take_only_post(as_supervisor, open_ticket, work_order):
    for url in [transition_url(open_ticket), assign_url(open_ticket), transition_url(work_order)]:
        response = as_supervisor.get(url)
        assert response.status_code == 405, url
        assert response["Allow"] == "POST"
    open_ticket.refresh_from_db()
    assert open_ticket.status == TicketStatus.OPEN
    assert history(open_ticket) == history(work_order) == []


def test_firing_on_an_unknown_object_is_404(as_supervisor):
    assert as_supervisor.post(f"{TICKETS}999999/transition/", {"name": "triage"}).status_code == 404
    assert Event.objects.count() == 0


# Assigning from the change page


def test_assigning_a_team_member(as_supervisor, supervisor, team, agent):
    ticket = TicketFactory(team=team, status=TicketStatus.OPEN)
    page = as_supervisor.get(change_url(ticket)).content.decode()
    assert f'<option value="{agent.pk}">' in page

    response = as_supervisor.post(assign_url(ticket), {"assignee": agent.pk})

    assert response.status_code == 302
    assert errors_of(response) == []
    [done] = successes_of(response)
    assert str(agent) in done
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert history(ticket) == [(EventType.ASSIGNED, supervisor.pk, {"from": None, "to": agent.pk})]


def test_unassigning(as_supervisor, supervisor, open_ticket, agent):
    response = as_supervisor.post(assign_url(open_ticket), {"assignee": ""})

    assert errors_of(response) == []
    assert len(successes_of(response)) == 1
    open_ticket.refresh_from_db()
    assert open_ticket.assignee is None
    assert history(open_ticket) == [
        (EventType.UNASSIGNED, supervisor.pk, {"from": agent.pk, "to": None})
    ]


@pytest.mark.parametrize("who", ["outsider", "requester", "nobody", "garbage"])
def test_assigning_someone_not_in_the_team_is_refused(
    as_supervisor, open_ticket, agent, outsider, who
):
    assignee = {
        "outsider": outsider.pk,
        "requester": open_ticket.requester_id,
        "nobody": 987654,
        "garbage": "abc",
    }[who]

    response = as_supervisor.post(assign_url(open_ticket), {"assignee": assignee})

    assert response.status_code == 302
    [error] = errors_of(response)
    assert error.startswith("assignee:") or error == "No such user."
    open_ticket.refresh_from_db()
    assert open_ticket.assignee == agent
    assert history(open_ticket) == []


def test_assigning_a_work_order(as_supervisor, supervisor, team):
    member = AgentFactory(teams=[team])
    wo = WorkOrderFactory(team=team)

    as_supervisor.post(assign_url(wo), {"assignee": member.pk})

    wo.refresh_from_db()
    assert wo.assignee == member
    assert history(wo) == [(EventType.ASSIGNED, supervisor.pk, {"from": None, "to": member.pk})]


# Editing through the change form


def test_editing_a_ticket_records_what_changed(as_supervisor, supervisor, open_ticket, other_team):
    old_title, old_due = open_ticket.title, open_ticket.due_at
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    data["title"] = "Printer jams on tray 2"
    data["description"] = "Every morning."

    response = as_supervisor.post(change_url(open_ticket), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert response["Location"] == TICKETS
    open_ticket.refresh_from_db()
    assert (open_ticket.title, open_ticket.description) == (
        "Printer jams on tray 2",
        "Every morning.",
    )
    assert open_ticket.due_at == old_due
    assert open_ticket.updated_by == supervisor
    [(kind, actor, diff)] = history(open_ticket)
    assert (kind, actor) == (EventType.FIELDS_CHANGED, supervisor.pk)
    assert set(diff) == {"title", "description"}
    assert diff["title"] == [old_title, "Printer jams on tray 2"]
    assert Comment.objects.count() == 0


def test_editing_the_priority_brings_its_due_date(as_supervisor, supervisor, open_ticket):
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    data["priority"] = Priority.URGENT

    as_supervisor.post(change_url(open_ticket), data)

    open_ticket.refresh_from_db()
    assert open_ticket.priority == Priority.URGENT
    [(kind, actor, diff)] = history(open_ticket)
    assert (kind, actor, set(diff)) == (
        EventType.FIELDS_CHANGED,
        supervisor.pk,
        {"priority", "due_at"},
    )


def test_moving_a_ticket_to_a_team_its_assignee_is_not_in_is_refused(
    as_supervisor, open_ticket, team, other_team
):
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    data["team"] = str(other_team.pk)

    response = as_supervisor.post(change_url(open_ticket), data)

    assert response.status_code == 302
    [error] = errors_of(response)
    assert error.startswith("team:")
    open_ticket.refresh_from_db()
    assert open_ticket.team == team
    assert history(open_ticket) == []


def test_a_closed_ticket_is_shown_read_only_and_still_takes_a_comment(as_supervisor, team):
    ticket = TicketFactory(team=team, status=TicketStatus.CLOSED, title="Old")
    page = as_supervisor.get(change_url(ticket))
    data = form_data(page, "ticket_form")
    assert "title" not in data and "priority" not in data  # shown, not offered
    assert "Old" in page.content.decode()
    data["comments-0-body"] = "Checked again after closing"

    response = as_supervisor.post(change_url(ticket), data)

    assert response.status_code == 302
    assert errors_of(response) == []
    assert [comment.body for comment in ticket.comments.all()] == ["Checked again after closing"]
    ticket.refresh_from_db()
    assert ticket.title == "Old"


def test_a_forged_edit_of_a_closed_ticket_is_refused_with_a_message(as_supervisor, team):
    ticket = TicketFactory(team=team, status=TicketStatus.CLOSED, title="Old")
    data = form_data(as_supervisor.get(change_url(ticket)), "ticket_form")
    data["title"] = "Rewritten history"

    response = as_supervisor.post(change_url(ticket), data)

    assert response.status_code == 302
    assert errors_of(response) == ["A closed ticket is read-only; a supervisor can reopen it."]
    ticket.refresh_from_db()
    assert ticket.title == "Old"
    assert history(ticket) == []


def test_editing_a_ticket_closed_meanwhile_is_refused_with_a_message(
    as_supervisor, supervisor, team
):
    ticket = TicketFactory(team=team, status=TicketStatus.RESOLVED, title="Old")
    data = form_data(as_supervisor.get(change_url(ticket)), "ticket_form")
    data["title"] = "Rewritten history"
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)  # closed elsewhere

    response = as_supervisor.post(change_url(ticket), data)

    assert response.status_code == 302
    [error] = errors_of(response)
    assert "closed ticket is read-only" in error
    ticket.refresh_from_db()
    assert ticket.title == "Old"
    assert history(ticket) == []


def test_adding_a_ticket_goes_through_the_service(as_supervisor, supervisor, team):
    requester = RequesterFactory()
    data = form_data(as_supervisor.get(f"{TICKETS}add/"), "ticket_form")
    data |= {
        "title": "Lift stuck",
        "description": "Between floors 2 and 3",
        "priority": Priority.HIGH,
        "team": str(team.pk),
        "requester": str(requester.pk),
    }

    response = as_supervisor.post(f"{TICKETS}add/", data)

    assert response.status_code == 302, response.context and response.context["errors"]
    ticket = Ticket.objects.get()
    assert (ticket.title, ticket.priority, ticket.team, ticket.requester) == (
        "Lift stuck",
        Priority.HIGH,
        team,
        requester,
    )
    assert (ticket.status, ticket.created_by, ticket.updated_by) == (
        TicketStatus.NEW,
        supervisor,
        supervisor,
    )
    assert ticket.due_at is not None
    assert history(ticket) == [
        (
            EventType.CREATED,
            supervisor.pk,
            {"title": "Lift stuck", "priority": "high", "team": team.pk, "status": "new"},
        )
    ]


def test_an_inactive_user_is_refused_as_a_new_tickets_requester(as_supervisor, team):
    """As the API, which takes active users only."""
    gone = RequesterFactory(is_active=False)
    data = form_data(as_supervisor.get(f"{TICKETS}add/"), "ticket_form")
    data |= {"title": "Lift stuck", "team": str(team.pk), "requester": str(gone.pk)}

    response = as_supervisor.post(f"{TICKETS}add/", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["requester"] == [
        "Select an active user: this one is inactive or does not exist."
    ]
    assert not Ticket.objects.exists()


def test_an_inactive_user_is_refused_as_a_tickets_new_requester(as_supervisor, open_ticket):
    gone = RequesterFactory(is_active=False)
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    data["requester"] = str(gone.pk)

    response = as_supervisor.post(change_url(open_ticket), data)

    assert response.status_code == 200
    assert "requester" in response.context["adminform"].form.errors
    open_ticket.refresh_from_db()
    assert open_ticket.requester != gone
    assert history(open_ticket) == []


def test_a_ticket_whose_requester_left_is_still_edited(as_supervisor, supervisor, open_ticket):
    """The page posts the requester it shows: the one the ticket has stays acceptable."""
    User.objects.filter(pk=open_ticket.requester_id).update(is_active=False)
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    data["title"] = "Still being worked"

    response = as_supervisor.post(change_url(open_ticket), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    open_ticket.refresh_from_db()
    assert open_ticket.title == "Still being worked"


@pytest.mark.parametrize("page", ["ticket with a comment", "work order with time", "new ticket"])
def test_a_page_sent_twice_saves_once(as_supervisor, open_ticket, work_order, team, page):
    """A double click, or a reload that posts again: the new rows were added twice (two
    comments, twice the time, two tickets), each time "changed successfully"."""
    if page == "ticket with a comment":
        url, form = change_url(open_ticket), "ticket_form"
        added = {"comments-0-body": "On my way"}
        count = Comment.objects.filter(ticket=open_ticket).count
    elif page == "work order with time":
        url, form = change_url(work_order), "workorder_form"
        added = {"time_entries-0-minutes": "45"}
        count = TimeEntry.objects.filter(work_order=work_order).count
    else:
        url, form = f"{TICKETS}add/", "ticket_form"
        added = {"title": "Lift stuck", "team": str(team.pk)}
        added["requester"] = str(RequesterFactory().pk)
        count = Ticket.objects.filter(title="Lift stuck").count
    data = form_data(as_supervisor.get(url), form) | added

    first, second = as_supervisor.post(url, data), as_supervisor.post(url, data)

    assert (first.status_code, second.status_code) == (302, 302)
    assert count() == 1
    assert errors_of(second) == [
        "This page was saved already (sent twice?): nothing more was written. "
        "It is shown again as it is now."
    ]


def test_page_tokens_are_forgotten_as_idempotency_keys_are(
    as_supervisor, supervisor, open_ticket, django_capture_on_commit_callbacks
):
    """Recorded with every save, they would pile up: those past IDEMPOTENCY_KEY_HOURS go."""
    old = IdempotencyKey.objects.create(user=supervisor, key="admin page old", path=TICKETS)
    then = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS, minutes=1)
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=then)
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")

    with django_capture_on_commit_callbacks(execute=True):  # once the page's save commits
        as_supervisor.post(change_url(open_ticket), data | {"comments-0-body": "On my way"})

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == [
        f"admin page {data['page_token']}"
    ]


def test_a_page_shown_again_with_errors_saves_once_corrected(as_supervisor, work_order):
    """It keeps its token: the corrected page is its first save, not a second one."""
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")

    wrong = data | {"time_entries-0-minutes": "-5"}
    shown_again = as_supervisor.post(change_url(work_order), wrong)
    corrected = form_data(shown_again, "workorder_form") | {"time_entries-0-minutes": "45"}
    saved = as_supervisor.post(change_url(work_order), corrected)

    assert (shown_again.status_code, saved.status_code) == (200, 302)
    assert corrected["page_token"] == data["page_token"]
    assert TimeEntry.objects.filter(work_order=work_order).count() == 1


def test_adding_an_internal_comment_inline(as_supervisor, supervisor, open_ticket):
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    data["comments-0-body"] = "Vendor says next week."
    data["comments-0-internal"] = "on"

    response = as_supervisor.post(change_url(open_ticket), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    comment = Comment.objects.get()
    assert (comment.ticket, comment.author, comment.body, comment.internal) == (
        open_ticket,
        supervisor,
        "Vendor says next week.",
        True,
    )
    [event] = Event.objects.for_object(open_ticket)
    assert (event.type, event.actor, event.public) == (EventType.COMMENT_ADDED, supervisor, False)
    assert event.data == {"comment": comment.pk, "internal": True}


def test_existing_comments_cannot_be_edited_inline(as_supervisor, open_ticket, agent):
    comment = Comment.objects.create(ticket=open_ticket, author=agent, body="Original")
    page = as_supervisor.get(change_url(open_ticket))
    data = form_data(page, "ticket_form")
    assert "comments-0-body" not in data  # shown read-only
    data |= {"comments-0-body": "Forged", "comments-0-internal": "on"}

    as_supervisor.post(change_url(open_ticket), data)

    comment.refresh_from_db()
    assert (comment.body, comment.internal) == ("Original", False)
    assert history(open_ticket) == []


def test_a_supervisor_comments_on_a_closed_ticket_inline(as_supervisor, supervisor, team):
    """The API takes a supervisor's comment on a closed ticket; the admin should too."""
    ticket = TicketFactory(team=team, status=TicketStatus.CLOSED)
    data = form_data(as_supervisor.get(change_url(ticket)), "ticket_form")
    data["comments-0-body"] = "Closed as a duplicate of another ticket."

    response = as_supervisor.post(change_url(ticket), data)

    assert errors_of(response) == []
    comment = Comment.objects.get()
    assert (comment.ticket, comment.author) == (ticket, supervisor)
    assert history(ticket) == [
        (EventType.COMMENT_ADDED, supervisor.pk, {"comment": comment.pk, "internal": False})
    ]


# Work orders: checklist, time, completion


def test_adding_a_checklist_item_inline(as_supervisor, supervisor, work_order):
    ChecklistItemFactory(work_order=work_order, text="Isolate power")
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data["checklist-1-text"] = "Replace fuse"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    added = ChecklistItem.objects.get(work_order=work_order, text="Replace fuse", done=False)
    assert history(work_order) == [
        (
            EventType.FIELDS_CHANGED,
            supervisor.pk,
            {"checklist": [None, "Replace fuse"], "item": added.pk, "position": 1},
        )
    ]


def test_a_checklist_item_added_ticked_inline_is_ticked(as_supervisor, supervisor, work_order):
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data["checklist-0-text"] = "Replace fuse"
    data["checklist-0-done"] = "on"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    item = ChecklistItem.objects.get(work_order=work_order)
    assert (item.text, item.done, item.done_by) == ("Replace fuse", True, supervisor)
    assert [kind for kind, _, _ in history(work_order)] == [
        EventType.FIELDS_CHANGED,
        EventType.CHECKLIST_TICKED,
    ]


def test_a_checklist_item_added_in_the_blank_row_goes_last(as_supervisor, work_order):
    """The blank row sits under the others and the API appends when no position is given."""
    ChecklistItemFactory(work_order=work_order, text="Isolate power")
    ChecklistItemFactory(work_order=work_order, text="Open panel")
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data["checklist-2-text"] = "Replace fuse"  # position left as rendered

    as_supervisor.post(change_url(work_order), data)

    assert list(work_order.checklist.values_list("text", flat=True)) == [
        "Isolate power",
        "Open panel",
        "Replace fuse",
    ]


def test_ticking_a_checklist_item_inline(as_supervisor, supervisor, work_order):
    item = ChecklistItemFactory(work_order=work_order, text="Isolate power")
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data["checklist-0-done"] = "on"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    item.refresh_from_db()
    assert (item.done, item.done_by) == (True, supervisor)
    assert item.done_at is not None
    assert history(work_order) == [
        (
            EventType.CHECKLIST_TICKED,
            supervisor.pk,
            {"item": item.pk, "text": "Isolate power", "done": True},
        )
    ]


def test_logging_time_inline(as_supervisor, supervisor, work_order):
    TimeEntryFactory(work_order=work_order, minutes=30)
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data["time_entries-1-minutes"] = "45"
    data["time_entries-1-note"] = "Replaced fuse"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    entry = TimeEntry.objects.get(work_order=work_order, user=supervisor)
    assert (entry.minutes, entry.note, entry.date) == (45, "Replaced fuse", timezone.localdate())
    assert history(work_order) == [
        (EventType.TIME_LOGGED, supervisor.pk, {"entry": entry.pk, "minutes": 45})
    ]


@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-5", "Ensure this value is greater than or equal to 1."),
        ("10081", "Ensure this value is less than or equal to 10080."),
    ],
)
def test_logging_minutes_out_of_range_inline_says_the_range(
    as_supervisor, work_order, minutes, message
):
    page = as_supervisor.get(change_url(work_order))
    assert re.search(r'name="time_entries-0-minutes"[^>]* min="1"', page.content.decode())
    data = form_data(page, "workorder_form")
    data["time_entries-0-minutes"] = minutes

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert not TimeEntry.objects.exists()
    assert history(work_order) == []


def test_clearing_a_linked_work_orders_ticket_is_refused(as_supervisor, work_order, open_ticket):
    work_order.ticket = open_ticket
    work_order.save()
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data["ticket"] = ""

    response = as_supervisor.post(change_url(work_order), data, follow=True)

    assert "A linked work order stays with its ticket: it cannot be unlinked." in errors_of(
        response
    )
    work_order.refresh_from_db()
    assert work_order.ticket == open_ticket
    assert history(work_order) == []


def test_a_schedule_that_ends_before_it_starts_says_so(as_supervisor, work_order):
    start = timezone.now() + timedelta(days=1)
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data |= {
        "scheduled_start_0": start.strftime("%Y-%m-%d"),
        "scheduled_start_1": "10:00:00",
        "scheduled_end_0": start.strftime("%Y-%m-%d"),
        "scheduled_end_1": "09:00:00",
    }

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "The scheduled end must not be before the start." in page
    assert "is violated" not in page
    work_order.refresh_from_db()
    assert work_order.scheduled_end is None


# Local times at either end of the calendar that have no date in UTC, which the database stores.
TIMES_WITHOUT_A_UTC_DATE = [
    ("America/New_York", "9999-12-31", "23:59"),
    ("Asia/Tokyo", "0001-01-01", "00:00"),
]


@pytest.mark.parametrize(("zone", "day", "time"), TIMES_WITHOUT_A_UTC_DATE)
def test_a_due_date_without_a_date_in_utc_is_refused_on_the_add_page(
    as_supervisor, settings, team, zone, day, time
):
    settings.TIME_ZONE = zone
    data = form_data(as_supervisor.get(f"{TICKETS}add/"), "ticket_form")
    requester = RequesterFactory()
    data |= {"title": "Far off", "requester": str(requester.pk), "due_at_0": day, "due_at_1": time}

    response = as_supervisor.post(f"{TICKETS}add/", data)

    assert response.status_code == 200
    assert "Datetime value out of range." in html.unescape(response.content.decode())
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(("zone", "day", "time"), TIMES_WITHOUT_A_UTC_DATE)
@pytest.mark.parametrize("field", ["scheduled_start", "scheduled_end", "due_at"])
def test_a_schedule_without_a_date_in_utc_is_refused_on_the_change_page(
    as_supervisor, settings, work_order, zone, day, time, field
):
    settings.TIME_ZONE = zone
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data |= {f"{field}_0": day, f"{field}_1": time}

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 200
    assert "Datetime value out of range." in html.unescape(response.content.decode())
    assert history(work_order) == []


@pytest.mark.parametrize(("zone", "day", "time"), TIMES_WITHOUT_A_UTC_DATE)
def test_scheduling_for_a_time_without_a_date_in_utc_is_an_error_message(
    as_supervisor, settings, team, agent, zone, day, time
):
    settings.TIME_ZONE = zone
    wo = WorkOrderFactory(team=team, assignee=agent)

    response = as_supervisor.post(
        transition_url(wo), {"name": "schedule", "scheduled_start": f"{day}T{time}", "note": ""}
    )

    assert errors_of(response) == ["scheduled_start: Datetime value out of range."]
    wo.refresh_from_db()
    assert (wo.status, wo.scheduled_start) == (WorkOrderStatus.OPEN, None)
    assert history(wo) == []


def test_correcting_a_time_entry_inline(as_supervisor, supervisor, work_order, agent):
    entry = TimeEntryFactory(work_order=work_order, user=agent, minutes=30)
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    assert data["time_entries-0-minutes"] == "30"
    data["time_entries-0-minutes"] = "50"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    entry.refresh_from_db()
    assert (entry.minutes, entry.user) == (50, agent)
    assert TimeEntry.objects.count() == 1
    assert history(work_order) == [
        (
            EventType.TIME_LOGGED,
            supervisor.pk,
            {
                "entry": entry.pk,
                "minutes": 50,
                "previous_minutes": 30,
                "changes": {"minutes": [30, 50]},
            },
        )
    ]


def test_a_completed_checklist_cannot_be_unticked_inline(as_supervisor, team, agent):
    wo = WorkOrderFactory(team=team, status=WorkOrderStatus.COMPLETED, assignee=agent)
    item = ChecklistItemFactory(work_order=wo, done=True, done_by=agent, done_at=timezone.now())
    data = form_data(as_supervisor.get(change_url(wo)), "workorder_form")
    assert data["checklist-0-done"] == "on"
    del data["checklist-0-done"]

    response = as_supervisor.post(change_url(wo), data)

    assert response.status_code == 302
    assert response["Location"] == change_url(wo)
    [error] = errors_of(response)
    assert "completed work order is read-only" in error
    item.refresh_from_db()
    assert (item.done, item.done_by) == (True, agent)
    assert history(wo) == []


@pytest.mark.parametrize("status", [WorkOrderStatus.VERIFIED, WorkOrderStatus.CANCELLED])
def test_saving_a_read_only_work_order_unchanged_changes_nothing(
    as_supervisor, team, agent, status
):
    """As a closed ticket saved unchanged: nothing asked, nothing refused."""
    wo = WorkOrderFactory(team=team, status=status, assignee=agent)
    data = form_data(as_supervisor.get(change_url(wo)), "workorder_form")

    response = as_supervisor.post(change_url(wo), data)

    assert response.status_code == 302
    assert errors_of(response) == []
    assert len(successes_of(response)) == 1
    assert history(wo) == []


def test_the_ticket_page_lists_its_work_orders(as_supervisor, open_ticket, team):
    wo = WorkOrderFactory(team=team, ticket=open_ticket, title="Swap the drum unit")

    response = as_supervisor.get(change_url(open_ticket))
    page = response.content.decode()

    assert "Swap the drum unit" in page
    assert change_url(wo) in page
    assert form_data(response, "ticket_form")["work_orders-MAX_NUM_FORMS"] == "0"
    assert history(open_ticket) == []


def test_logging_more_than_a_week_in_one_entry_is_refused(as_supervisor, work_order):
    """docs/configuration.md: time entries take 1 to 10080 minutes, as the API enforces."""
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data["time_entries-0-minutes"] = "10081"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code in (200, 302)
    assert not TimeEntry.objects.exists()
    assert history(work_order) == []


def test_scheduling_from_the_change_page(as_supervisor, supervisor, team, agent):
    wo = WorkOrderFactory(team=team, assignee=agent)
    page = as_supervisor.get(change_url(wo)).content.decode()
    assert 'name="scheduled_start"' in page  # the schedule button asks for its input

    response = as_supervisor.post(
        transition_url(wo), {"name": "schedule", "scheduled_start": "2030-03-04T09:30", "note": ""}
    )

    assert errors_of(response) == []
    wo.refresh_from_db()
    assert wo.status == WorkOrderStatus.SCHEDULED
    assert wo.scheduled_start == timezone.make_aware(datetime(2030, 3, 4, 9, 30))
    [(kind, actor, data)] = history(wo)
    assert (kind, actor, data["transition"], data["to"]) == (
        EventType.STATUS_CHANGED,
        supervisor.pk,
        "schedule",
        "scheduled",
    )


def test_a_work_order_added_for_a_ticket_without_a_team_takes_the_tickets(
    as_supervisor, other_team
):
    ticket = TicketFactory(team=other_team, status=TicketStatus.OPEN)
    data = form_data(as_supervisor.get(f"{WORK_ORDERS}add/"), "workorder_form")
    data |= {"title": "Replace toner", "team": "", "ticket": str(ticket.pk)}

    response = as_supervisor.post(f"{WORK_ORDERS}add/", data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert WorkOrder.objects.get().team == other_team


def test_a_ticket_added_without_a_team_goes_to_the_default_team(as_supervisor):
    data = form_data(as_supervisor.get(f"{TICKETS}add/"), "ticket_form")
    data |= {"title": "Lift stuck", "team": "", "requester": str(RequesterFactory().pk)}

    response = as_supervisor.post(f"{TICKETS}add/", data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert Ticket.objects.get().team == Team.objects.default()


def test_adding_a_work_order_for_a_ticket(as_supervisor, supervisor, team, open_ticket):
    data = form_data(as_supervisor.get(f"{WORK_ORDERS}add/"), "workorder_form")
    data |= {
        "title": "Replace toner",
        "team": str(team.pk),
        "ticket": str(open_ticket.pk),
        "location": "Room 101",
    }

    response = as_supervisor.post(f"{WORK_ORDERS}add/", data)

    assert response.status_code == 302, response.context and response.context["errors"]
    wo = WorkOrder.objects.get()
    assert (wo.title, wo.ticket, wo.location, wo.created_by) == (
        "Replace toner",
        open_ticket,
        "Room 101",
        supervisor,
    )
    assert not wo.checklist.exists() and not wo.time_entries.exists()
    assert [(kind, actor) for kind, actor, _ in history(wo)] == [(EventType.CREATED, supervisor.pk)]
    assert history(open_ticket) == [
        (
            EventType.WORK_ORDER_LINKED,
            supervisor.pk,
            {"work_order": wo.pk, "title": "Replace toner"},
        )
    ]


def test_completing_is_refused_while_an_item_is_unticked(as_supervisor, supervisor, work_order):
    ChecklistItemFactory(work_order=work_order, text="Isolate power")
    offered = offered_transitions(as_supervisor.get(change_url(work_order)))
    assert "pause" in offered
    assert "complete" not in offered

    response = as_supervisor.post(
        transition_url(work_order), {"name": "complete", "completion_notes": "All good"}
    )

    assert response.status_code == 302
    [error] = errors_of(response)
    assert 'checklist items are not done: "Isolate power"' in error
    work_order.refresh_from_db()
    assert (work_order.status, work_order.completion_notes) == (WorkOrderStatus.IN_PROGRESS, "")
    assert history(work_order) == []


def test_ticking_then_completing_from_the_change_page(as_supervisor, supervisor, work_order):
    ChecklistItemFactory(work_order=work_order, text="Isolate power")
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data["checklist-0-done"] = "on"
    as_supervisor.post(change_url(work_order), data)

    response = as_supervisor.post(
        transition_url(work_order), {"name": "complete", "completion_notes": "All good"}
    )

    assert errors_of(response) == []
    work_order.refresh_from_db()
    assert (work_order.status, work_order.completion_notes) == (
        WorkOrderStatus.COMPLETED,
        "All good",
    )
    assert [kind for kind, _, _ in history(work_order)] == [
        EventType.CHECKLIST_TICKED,
        EventType.STATUS_CHANGED,
    ]
    assert history(work_order)[-1][2]["to"] == WorkOrderStatus.COMPLETED


# Bulk actions


def run_action(client, url: str, action: str, objects) -> object:
    return client.post(
        url, {"action": action, "_selected_action": [obj.pk for obj in objects], "index": 0}
    )


def test_bulk_assign_to_me_reports_each_failure(as_supervisor, supervisor, team, other_team, agent):
    fresh = TicketFactory(team=team)
    unassigned = TicketFactory(team=team, status=TicketStatus.OPEN)
    reassigned = TicketFactory(team=team, status=TicketStatus.IN_PROGRESS, assignee=agent)
    closed = TicketFactory(team=team, status=TicketStatus.CLOSED)
    elsewhere = TicketFactory(team=other_team, status=TicketStatus.OPEN)

    response = run_action(
        as_supervisor, TICKETS, "assign_to_me", [fresh, unassigned, reassigned, closed, elsewhere]
    )

    assert response.status_code == 302
    errors = errors_of(response)
    assert len(errors) == 2
    assert errors[0].startswith(f"{closed}: ") and "cannot be assigned" in errors[0]
    assert errors[1].startswith(f"{elsewhere}: assignee:")
    [done] = successes_of(response)
    assert "3 tickets" in done
    for ticket, previous in [(fresh, None), (unassigned, None), (reassigned, agent.pk)]:
        ticket.refresh_from_db()
        assert ticket.assignee == supervisor
        assert history(ticket) == [
            (EventType.ASSIGNED, supervisor.pk, {"from": previous, "to": supervisor.pk})
        ]
    for ticket in (closed, elsewhere):
        ticket.refresh_from_db()
        assert ticket.assignee is None
        assert history(ticket) == []


def test_bulk_close_closes_resolved_tickets_only(as_supervisor, supervisor, team, agent):
    resolved = [
        TicketFactory(team=team, status=TicketStatus.RESOLVED, assignee=agent) for _ in range(2)
    ]
    still_open = TicketFactory(team=team, status=TicketStatus.OPEN, assignee=agent)

    response = run_action(as_supervisor, TICKETS, "fire_close", [*resolved, still_open])

    assert response.status_code == 302
    [error] = errors_of(response)
    assert error == f"{still_open}: Cannot close a ticket whose status is open."
    [done] = successes_of(response)
    assert "2 tickets" in done
    for ticket in resolved:
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.CLOSED
        assert ticket.closed_at is not None
        [(kind, actor, data)] = history(ticket)
        assert (kind, actor, data.pop("changes")["closed_at"][0]) == (
            EventType.STATUS_CHANGED,
            supervisor.pk,
            None,
        )
        assert data == {"transition": "close", "from": "resolved", "to": "closed", "note": ""}
    still_open.refresh_from_db()
    assert still_open.status == TicketStatus.OPEN
    assert history(still_open) == []


def test_bulk_triage(as_supervisor, supervisor, team):
    new = TicketFactory(team=team)
    on_hold = TicketFactory(team=team, status=TicketStatus.ON_HOLD)

    response = run_action(as_supervisor, TICKETS, "fire_triage", [new, on_hold])

    assert len(errors_of(response)) == 1
    new.refresh_from_db()
    on_hold.refresh_from_db()
    assert (new.status, on_hold.status) == (TicketStatus.OPEN, TicketStatus.ON_HOLD)
    assert [kind for kind, _, _ in history(new)] == [EventType.STATUS_CHANGED]
    assert history(on_hold) == []


def test_bulk_verify_work_orders(as_supervisor, supervisor, team, agent):
    completed = WorkOrderFactory(team=team, status=WorkOrderStatus.COMPLETED, assignee=agent)
    working = WorkOrderFactory(team=team, status=WorkOrderStatus.IN_PROGRESS, assignee=agent)

    response = run_action(as_supervisor, WORK_ORDERS, "fire_verify", [completed, working])

    assert response.status_code == 302
    assert errors_of(response) == [
        f"{working}: Cannot verify a work order whose status is in_progress."
    ]
    [done] = successes_of(response)
    assert "1 work order." in done
    completed.refresh_from_db()
    working.refresh_from_db()
    assert (completed.status, working.status) == (
        WorkOrderStatus.VERIFIED,
        WorkOrderStatus.IN_PROGRESS,
    )
    assert history(completed) == [
        (
            EventType.STATUS_CHANGED,
            supervisor.pk,
            {"transition": "verify", "from": "completed", "to": "verified", "note": ""},
        )
    ]
    assert history(working) == []


def test_bulk_actions_offered(as_supervisor):
    tickets = as_supervisor.get(TICKETS).context["action_form"].fields["action"].choices
    work_orders = as_supervisor.get(WORK_ORDERS).context["action_form"].fields["action"].choices

    assert {"assign_to_me", "fire_triage", "fire_start", "fire_close"} <= {n for n, _ in tickets}
    assert {"assign_to_me", "fire_start", "fire_verify"} <= {n for n, _ in work_orders}
    assert "delete_selected" not in {n for n, _ in tickets} | {n for n, _ in work_orders}


# History is read-only


def test_history_is_shown_read_only(as_supervisor, supervisor, open_ticket):
    as_supervisor.post(transition_url(open_ticket), {"name": "hold", "note": "Waiting for parts"})
    before = history(open_ticket)
    assert len(before) == 1

    response = as_supervisor.get(change_url(open_ticket))
    page = response.content.decode()
    data = form_data(response, "ticket_form")

    assert "Waiting for parts" in page
    assert data[f"{EVENTS_PREFIX}-TOTAL_FORMS"] == "1"
    assert data[f"{EVENTS_PREFIX}-MAX_NUM_FORMS"] == "0"  # no room to add a row
    editable = [name for name in data if name.startswith(f"{EVENTS_PREFIX}-0-")]
    assert set(editable) <= {f"{EVENTS_PREFIX}-0-id"}
    assert f"{EVENTS_PREFIX}-0-DELETE" not in page
    [inline] = [
        formset
        for formset in response.context["inline_admin_formsets"]
        if formset.formset.prefix == EVENTS_PREFIX
    ]
    assert not (
        inline.has_add_permission or inline.has_change_permission or inline.has_delete_permission
    )

    # A forged post of the history rows changes nothing.
    data |= {
        f"{EVENTS_PREFIX}-TOTAL_FORMS": "2",
        f"{EVENTS_PREFIX}-0-type": EventType.CREATED,
        f"{EVENTS_PREFIX}-0-DELETE": "on",
        f"{EVENTS_PREFIX}-1-type": EventType.CREATED,
        f"{EVENTS_PREFIX}-1-data": "{}",
    }
    as_supervisor.post(change_url(open_ticket), data)
    assert history(open_ticket) == before


@pytest.mark.parametrize("who", ["as_supervisor", "as_admin"])
def test_there_is_no_admin_for_events(request, open_ticket, who):
    client = request.getfixturevalue(who)
    event = Event.objects.create(subject=open_ticket, type=EventType.CREATED, data={})

    for url in [
        "/admin/dispatchdesk/",
        "/admin/dispatchdesk/event/",
        f"/admin/dispatchdesk/event/{event.pk}/change/",
        f"/admin/dispatchdesk/event/{event.pk}/delete/",
    ]:
        assert client.get(url).status_code == 404, url
    assert (
        client.post(f"/admin/dispatchdesk/event/{event.pk}/delete/", {"post": "yes"}).status_code
        == 404
    )
    assert Event.objects.filter(pk=event.pk).exists()


# Deleting


def test_a_supervisor_cannot_delete(as_supervisor, open_ticket, work_order):
    for obj in (open_ticket, work_order):
        delete_url = change_url(obj).replace("/change/", "/delete/")
        assert as_supervisor.get(delete_url).status_code == 403
        assert as_supervisor.post(delete_url, {"post": "yes"}).status_code == 403
    assert 'class="deletelink"' not in as_supervisor.get(change_url(open_ticket)).content.decode()
    assert Ticket.objects.filter(pk=open_ticket.pk).exists()
    assert WorkOrder.objects.filter(pk=work_order.pk).exists()


def test_an_admin_deletes_another_user_but_never_themselves(as_admin, admin_user):
    """Deleting oneself could remove the last admin, and the API refuses deactivating oneself."""
    other = AdminFactory()
    own_url = f"/admin/accounts/user/{admin_user.pk}/delete/"

    assert as_admin.get(own_url).status_code == 403
    assert as_admin.post(own_url, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [admin_user.pk], "post": "yes"}
    as_admin.post("/admin/accounts/user/", bulk)
    assert User.objects.filter(pk=admin_user.pk).exists()
    response = as_admin.post(f"/admin/accounts/user/{other.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=other.pk).exists()


def test_an_admin_deletes_a_ticket_without_work_orders(as_admin, admin_user, team, agent):
    ticket = TicketFactory(team=team)
    kept = TicketFactory(team=team)
    as_admin.post(assign_url(ticket), {"assignee": agent.pk})
    as_admin.post(assign_url(kept), {"assignee": agent.pk})
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CANCELLED)
    assert len(history(ticket)) == len(history(kept)) == 1
    delete_url = f"{TICKETS}{ticket.pk}/delete/"
    assert as_admin.get(delete_url).status_code == 200

    response = as_admin.post(delete_url, {"post": "yes"})

    assert response.status_code == 302
    assert response["Location"] == TICKETS
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    # History is never deleted: the deleted ticket's events stay, and the log says who did it.
    assert [kind for kind, _, _ in history(ticket)] == ["assigned"]
    assert len(history(kept)) == 1
    deletion = LogEntry.objects.get(action_flag=DELETION)
    assert (deletion.user, deletion.object_id) == (admin_user, str(ticket.pk))


@pytest.mark.parametrize("kind", ["ticket", "work order"])
def test_an_admin_cannot_delete_unfinished_work(as_admin, open_ticket, work_order, kind):
    """Cancelled first: an active work order deleted would no longer hold its ticket's resolve."""
    obj = open_ticket if kind == "ticket" else work_order
    delete_url = change_url(obj).replace("/change/", "/delete/")

    assert as_admin.get(delete_url).status_code == 403
    assert as_admin.post(delete_url, {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_bulk_deletion_refuses_unfinished_work(as_admin, team):
    finished = WorkOrderFactory(team=team, status=WorkOrderStatus.CANCELLED)
    active = WorkOrderFactory(team=team, status=WorkOrderStatus.OPEN)
    chosen = {"action": "delete_selected", "_selected_action": [finished.pk, active.pk]}

    page = as_admin.post(WORK_ORDERS, chosen)
    as_admin.post(WORK_ORDERS, {**chosen, "post": "yes"})

    assert "Cannot delete work orders" in page.content.decode()
    assert WorkOrder.objects.filter(pk__in=[finished.pk, active.pk]).count() == 2


def test_an_admin_deletes_finished_work_orders_in_bulk(as_admin, team):
    finished = [WorkOrderFactory(team=team, status=s) for s in ("cancelled", "verified")]
    chosen = {"action": "delete_selected", "_selected_action": [wo.pk for wo in finished]}

    as_admin.post(WORK_ORDERS, {**chosen, "post": "yes"})

    assert not WorkOrder.objects.filter(pk__in=[wo.pk for wo in finished]).exists()


@pytest.mark.parametrize("how", ["one", "bulk"])
def test_a_deleted_work_order_stays_named_in_its_tickets_history(
    as_admin, admin_user, team, agent, client_for, how
):
    ticket = TicketFactory(team=team, status=TicketStatus.OPEN)
    work_order = WorkOrderFactory(
        team=team, ticket=ticket, status=WorkOrderStatus.VERIFIED, title="Swap the pump"
    )

    if how == "one":
        delete_url = change_url(work_order).replace("/change/", "/delete/")
        as_admin.post(delete_url, {"post": "yes"})
    else:
        chosen = {"action": "delete_selected", "_selected_action": [work_order.pk]}
        as_admin.post(WORK_ORDERS, {**chosen, "post": "yes"})

    assert not WorkOrder.objects.filter(pk=work_order.pk).exists()
    deleted = {"work_order": work_order.pk, "title": "Swap the pump"}
    assert history(ticket) == [(EventType.WORK_ORDER_DELETED, admin_user.pk, deleted)]
    # Internal, as the link was; and hidden from agents, who may not see such a work order.
    event = Event.objects.for_object(ticket).get()
    assert not event.public
    agents_view = client_for(agent).get(f"/api/v1/tickets/{ticket.pk}/history/")
    assert agents_view.json()["results"] == []


def test_an_admin_cannot_delete_a_ticket_with_work_orders(as_admin, team):
    ticket = TicketFactory(team=team, status=TicketStatus.CANCELLED)
    WorkOrderFactory(team=team, ticket=ticket, status=WorkOrderStatus.CANCELLED)
    delete_url = f"{TICKETS}{ticket.pk}/delete/"

    page = as_admin.get(delete_url)
    as_admin.post(delete_url, {"post": "yes"})

    assert "protected" in page.content.decode()
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert WorkOrder.objects.filter(ticket=ticket).count() == 1
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


# Users


def test_a_supervisor_views_a_user_but_cannot_change_the_role(as_supervisor, agent, team):
    response = as_supervisor.get(f"/admin/accounts/user/{agent.pk}/change/")
    assert response.status_code == 200
    assert 'name="role"' not in response.content.decode()

    posted = as_supervisor.post(
        f"/admin/accounts/user/{agent.pk}/change/",
        {
            "email": agent.email,
            "full_name": agent.full_name,
            "role": Role.SUPERVISOR,
            "teams": [team.pk],
            "is_active": "on",
        },
    )

    assert posted.status_code == 403
    agent.refresh_from_db()
    assert agent.role == Role.AGENT
    assert not agent.is_staff
    assert as_supervisor.get("/admin/accounts/user/add/").status_code == 403


def test_an_admin_changes_a_role_and_teams(as_admin, agent, team, other_team):
    url = f"/admin/accounts/user/{agent.pk}/change/"
    data = form_data(as_admin.get(url), "user_form")
    assert data["role"] == Role.AGENT
    data["role"] = Role.SUPERVISOR
    data["teams"] = [str(team.pk), str(other_team.pk)]

    response = as_admin.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    agent = User.objects.get(pk=agent.pk)
    assert agent.role == Role.SUPERVISOR
    assert agent.is_staff
    assert set(agent.teams.all()) == {team, other_team}


def test_an_admin_adds_a_user_from_the_add_page(as_admin):
    page = as_admin.get("/admin/accounts/user/add/")
    assert page.status_code == 200
    data = form_data(page, "user_form")
    data.update(
        email="Kim.Lee@Example.com",
        full_name="Kim Lee",
        role=Role.AGENT,
        usable_password="true",
        password1="a-long-passphrase-2026",
        password2="a-long-passphrase-2026",
    )

    response = as_admin.post("/admin/accounts/user/add/", data)

    assert response.status_code == 302, response.context and response.context["errors"]
    kim = User.objects.get(email="kim.lee@example.com")  # stored as logins look it up
    assert (kim.full_name, kim.role) == ("Kim Lee", Role.AGENT)
    assert kim.check_password("a-long-passphrase-2026")


def test_the_admin_checks_an_email_as_it_will_be_stored(as_admin):
    """Folded after it was checked, an address that grows past 254 characters was a 500."""
    long = "a@" + ".".join(["\ufb03" * 60] * 3) + ".com"
    data = form_data(as_admin.get("/admin/accounts/user/add/"), "user_form")
    data.update(email=long, role=Role.REQUESTER, usable_password="false")

    response = as_admin.post("/admin/accounts/user/add/", data)

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert not User.objects.filter(role=Role.REQUESTER).exists()


def test_the_admin_refuses_an_email_that_differs_only_in_case(as_admin, agent):
    data = form_data(as_admin.get("/admin/accounts/user/add/"), "user_form")
    data.update(email=agent.email.upper(), role=Role.REQUESTER, usable_password="false")

    response = as_admin.post("/admin/accounts/user/add/", data)

    assert response.status_code == 200
    assert "already exists" in html.unescape(response.content.decode())
    assert User.objects.filter(email__iexact=agent.email).count() == 1


def test_an_admin_adds_a_user_without_a_password_yet(as_admin):
    data = form_data(as_admin.get("/admin/accounts/user/add/"), "user_form")
    data.update(email="lee@example.com", role=Role.REQUESTER, usable_password="false")
    data.pop("password1", None)
    data.pop("password2", None)

    response = as_admin.post("/admin/accounts/user/add/", data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert not User.objects.get(email="lee@example.com").has_usable_password()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role", Role.REQUESTER, "You cannot change your own role."),
        ("is_active", None, "You cannot deactivate yourself."),
    ],
)
def test_an_admin_cannot_demote_or_deactivate_themselves(
    as_admin, admin_user, field, value, message
):
    url = f"/admin/accounts/user/{admin_user.pk}/change/"
    data = form_data(as_admin.get(url), "user_form")
    if value is None:
        data.pop(field, None)  # an unticked checkbox sends nothing
    else:
        data[field] = value

    response = as_admin.post(url, data)

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN
    assert admin_user.is_active


def test_a_user_made_a_requester_in_the_admin_leaves_their_teams(as_admin, agent, team):
    url = f"/admin/accounts/user/{agent.pk}/change/"
    data = form_data(as_admin.get(url), "user_form")
    assert data["teams"] == str(team.pk)  # the form sends the teams they have
    data["role"] = Role.REQUESTER

    response = as_admin.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    agent = User.objects.get(pk=agent.pk)
    assert agent.role == Role.REQUESTER
    assert not agent.teams.exists()


def test_a_requester_cannot_be_given_a_team_in_the_admin(as_admin, team):
    requester = RequesterFactory()
    url = f"/admin/accounts/user/{requester.pk}/change/"
    data = form_data(as_admin.get(url), "user_form")
    data["teams"] = [str(team.pk)]

    response = as_admin.post(url, data)

    assert response.status_code == 200
    assert "Only active agents and supervisors can be team members." in response.content.decode()
    assert not requester.teams.exists()


def test_a_supervisor_reading_a_user_gets_no_password_reset_link(as_supervisor, agent):
    page = as_supervisor.get(f"/admin/accounts/user/{agent.pk}/change/").content.decode()

    assert "../password/" not in page
    assert agent.email in page


# Two people editing the same object


def test_an_edit_from_a_page_made_stale_by_another_change_saves_nothing(
    as_supervisor, supervisor, open_ticket
):
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    assert data["loaded_etag"] == etag_for(open_ticket)
    ticket_update(ticket=open_ticket, by=supervisor, changes={"priority": Priority.URGENT})
    data["description"] = "Edited from a page opened before the change"

    response = as_supervisor.post(change_url(open_ticket), data)

    assert response.status_code == 302
    assert messages_of(response) == [
        (
            "error",
            "Nothing was saved: this ticket was changed by someone else after you opened it. "
            "It is shown again as it is now; make your changes again.",
        )
    ]
    open_ticket.refresh_from_db()
    assert open_ticket.priority == Priority.URGENT  # not put back by the stale page
    assert open_ticket.description != "Edited from a page opened before the change"

    fresh = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    fresh["description"] = "Edited again"
    assert as_supervisor.post(change_url(open_ticket), fresh).status_code == 302
    open_ticket.refresh_from_db()
    assert (open_ticket.description, open_ticket.priority) == ("Edited again", Priority.URGENT)


def test_a_form_shown_again_with_errors_keeps_the_version_first_opened(
    as_supervisor, supervisor, open_ticket
):
    data = form_data(as_supervisor.get(change_url(open_ticket)), "ticket_form")
    first = data["loaded_etag"]
    ticket_update(ticket=open_ticket, by=supervisor, changes={"priority": Priority.URGENT})
    data["title"] = ""  # required: the page comes back with an error

    again = as_supervisor.post(change_url(open_ticket), data)

    assert again.status_code == 200
    assert form_data(again, "ticket_form")["loaded_etag"] == first
    data["title"] = "Fixed title"
    assert as_supervisor.post(change_url(open_ticket), data).status_code == 302
    open_ticket.refresh_from_db()
    assert open_ticket.title != "Fixed title"
    assert open_ticket.priority == Priority.URGENT


def test_a_stale_work_order_page_saves_nothing_but_its_inlines_need_no_fresh_page(
    as_supervisor, supervisor, work_order
):
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    work_order_update(work_order=work_order, by=supervisor, changes={"location": "Roof"})

    stale = dict(data, location="Basement")
    assert as_supervisor.post(change_url(work_order), stale).status_code == 302
    work_order.refresh_from_db()
    assert work_order.location == "Roof"

    # Logging time changes no field of the work order: nothing to be stale about.
    data["location"] = "Roof"
    data["time_entries-0-minutes"] = "15"
    response = as_supervisor.post(change_url(work_order), data)
    assert response.status_code == 302
    # The first refusal's message is still queued (no page was read in between), then success.
    assert [level for level, _ in messages_of(response)] == ["error", "success"]
    assert TimeEntry.objects.get(work_order=work_order).minutes == 15


def test_a_stale_page_leaves_the_checklist_items_it_did_not_change(
    as_supervisor, supervisor, agent, work_order
):
    """The page posts every row again: only what was changed on the page is a change, not what
    differs from the database (someone else's tick since)."""
    one = ChecklistItemFactory(work_order=work_order, text="one")
    two = ChecklistItemFactory(work_order=work_order, text="two")
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    checklist_update(item=one, by=agent, done=True)
    data["checklist-1-text"] = "two, reworded"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 302
    assert errors_of(response) == []
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.done, one.done_by, two.text) == (True, agent, "two, reworded")
    assert history(work_order) == [
        (EventType.CHECKLIST_TICKED, agent.pk, {"item": one.pk, "text": "one", "done": True}),
        (
            EventType.FIELDS_CHANGED,
            supervisor.pk,
            {"checklist": ["two", "two, reworded"], "item": two.pk},
        ),
    ]


def test_a_stale_page_leaves_the_time_entries_it_did_not_change(
    as_supervisor, supervisor, agent, work_order
):
    entry = TimeEntryFactory(work_order=work_order, user=agent, minutes=30)
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    time_entry_update(entry=entry, by=agent, minutes=60)
    data["time_entries-1-minutes"] = "15"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 302
    assert errors_of(response) == []
    entry.refresh_from_db()
    assert entry.minutes == 60
    added = TimeEntry.objects.exclude(pk=entry.pk).get()
    assert (added.minutes, added.user) == (15, supervisor)
    assert [(kind, actor) for kind, actor, _ in history(work_order)] == [
        (EventType.TIME_LOGGED, agent.pk),
        (EventType.TIME_LOGGED, supervisor.pk),
    ]


@pytest.mark.parametrize(
    ("meanwhile", "on_the_page"),
    [
        # Logged minutes move the work order's own version: its check refuses the page first.
        ({"minutes": 60}, {"time_entries-0-minutes": "45"}),
        # A note does not: the entry's own check does.
        ({"note": "Fuse"}, {"time_entries-0-note": "Fuse and cable"}),
    ],
    ids=["the work order's check", "the entry's check"],
)
def test_a_stale_page_that_changes_what_someone_else_changed_saves_nothing(
    as_supervisor, agent, work_order, meanwhile, on_the_page
):
    entry = TimeEntryFactory(work_order=work_order, user=agent, minutes=30, note="")
    item = ChecklistItemFactory(work_order=work_order, text="one")
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    time_entry_update(entry=entry, by=agent, **meanwhile)
    before = history(work_order)
    data |= on_the_page
    data["checklist-0-text"] = "one, reworded"  # in the same save: not kept either
    data["location"] = "Roof"

    response = as_supervisor.post(change_url(work_order), data)

    assert response.status_code == 302
    assert errors_of(response) == [
        "Nothing was saved: this work order was changed by someone else after you opened it. "
        "It is shown again as it is now; make your changes again."
    ]
    entry.refresh_from_db()
    item.refresh_from_db()
    work_order.refresh_from_db()
    assert {field: getattr(entry, field) for field in meanwhile} == meanwhile
    assert (item.text, work_order.location) == ("one", "")
    assert history(work_order) == before


def test_a_stale_page_that_rewords_an_item_someone_else_reworded_saves_nothing(
    as_supervisor, agent, work_order
):
    """A rewording changes no field of the work order: only the item's own check sees it."""
    item = ChecklistItemFactory(work_order=work_order, text="one")
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    checklist_update(item=item, by=agent, text="one (agent)")
    data["checklist-0-text"] = "one, reworded"

    response = as_supervisor.post(change_url(work_order), data)

    item.refresh_from_db()
    assert item.text == "one (agent)"
    assert errors_of(response)[0].startswith("Nothing was saved")


def test_moving_checklist_items_on_one_page_is_not_a_conflict_with_itself(
    as_supervisor, work_order
):
    """Moving one item renumbers the others: a later row of the same page is not stale for it."""
    first = ChecklistItemFactory(work_order=work_order, text="first", position=0)
    second = ChecklistItemFactory(work_order=work_order, text="second", position=1)
    data = form_data(as_supervisor.get(change_url(work_order)), "workorder_form")
    data |= {"checklist-0-position": "1", "checklist-1-position": "0"}
    data["checklist-1-text"] = "second, now first"

    response = as_supervisor.post(change_url(work_order), data)

    assert errors_of(response) == []
    assert list(work_order.checklist.values_list("pk", "text")) == [
        (second.pk, "second, now first"),
        (first.pk, "first"),
    ]


def test_the_history_button_leads_to_the_audit_trail(as_supervisor, open_ticket):
    response = as_supervisor.get(f"{change_url(open_ticket)}history/".replace("change/", ""))

    assert response.status_code == 302
    assert response["Location"] == f"{change_url(open_ticket)}#{HISTORY_ANCHOR}"
    page = as_supervisor.get(change_url(open_ticket)).content.decode()
    assert f'id="{HISTORY_ANCHOR}"' in page


def test_the_history_of_an_unknown_object_answers_as_django_does(as_supervisor):
    response = as_supervisor.get(f"{TICKETS}987654/history/")

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert errors_of(response) == [] and "doesn’t exist" in messages_of(response)[0][1]


def test_groups_are_not_offered_as_roles_decide_everything(as_admin):
    assert as_admin.get("/admin/auth/group/").status_code == 404
    assert "/admin/auth/group/" not in as_admin.get("/admin/").content.decode()


@pytest.mark.parametrize("how", ["one", "bulk"])
def test_the_default_team_cannot_be_deleted(as_admin, team, how):
    """Work filed without a team goes to it (a new one would be made, nobody in it)."""
    default = Team.objects.default()
    teams_url = "/admin/accounts/team/"

    if how == "one":
        response = as_admin.post(f"{teams_url}{default.pk}/delete/", {"post": "yes"})
    else:
        chosen = {"action": "delete_selected", "_selected_action": [default.pk, team.pk]}
        response = as_admin.post(teams_url, {**chosen, "post": "yes"})

    assert response.status_code == 403
    assert set(Team.objects.values_list("pk", flat=True)) == {default.pk, team.pk}
    assert as_admin.get(teams_url).status_code == 200


def test_two_admins_demoting_each_other_get_a_message_not_an_error_page(
    as_admin, admin_user, monkeypatch
):
    """The other admin demotes this one after the form's checks and before the save: the last
    active admin stays one, said on the page as the API says it (400), nothing saved."""
    other = AdminFactory(full_name="Bo Admin")
    url = f"/admin/accounts/user/{other.pk}/change/"
    data = form_data(as_admin.get(url), "user_form")
    data["role"] = Role.SUPERVISOR
    check = account_services.ensure_an_admin_remains

    def demoted_meanwhile_then_check(user):
        User.objects.filter(pk=admin_user.pk).update(role=Role.SUPERVISOR)
        check(user)

    monkeypatch.setattr(account_services, "ensure_an_admin_remains", demoted_meanwhile_then_check)

    response = as_admin.post(url, data)

    assert response.status_code == 302
    assert messages_of(response) == [("error", f"role: {LAST_ADMIN}")]
    assert User.objects.get(pk=other.pk).role == Role.ADMIN


@pytest.mark.parametrize("kind", ["team", "user", "user changed"])
def test_a_name_taken_meanwhile_in_the_admin_is_a_message_not_an_error_page(
    as_admin, monkeypatch, kind, agent
):
    """Someone adds the same team name or email after the form's checks, before the save.
    (Here within the admin's own transaction, so that row is rolled back with it.)"""
    if kind == "team":
        model, url, data = Team, "/admin/accounts/team/add/", {"name": "Night shift"}
        other = Team(name="night shift")
        taken = "name: A team with this name already exists."
    elif kind == "user":
        model, url = User, "/admin/accounts/user/add/"
        data = form_data(as_admin.get(url), "user_form")
        data.update(email="kim@example.com", role=Role.REQUESTER, usable_password="false")
        other = User(email="kim@example.com", role=Role.REQUESTER)
        taken = "email: A user with this email already exists."
    else:
        model, url = User, f"/admin/accounts/user/{agent.pk}/change/"
        data = {**form_data(as_admin.get(url), "user_form"), "email": "kim@example.com"}
        other = User(email="kim@example.com", role=Role.REQUESTER)
        taken = "email: A user with this email already exists."
    admin_class = type(admin.site._registry[model])
    validated = admin_class.save_form

    def validated_then_someone_adds(self, request, form, change):
        model.objects.bulk_create([other])
        return validated(self, request, form, change)

    monkeypatch.setattr(admin_class, "save_form", validated_then_someone_adds)

    response = as_admin.post(url, data)

    assert response.status_code == 302
    assert messages_of(response) == [("error", taken)]
    assert User.objects.get(pk=agent.pk).email == agent.email  # the change page saved nothing


@pytest.mark.parametrize("meanwhile", ["deactivated", "made a supervisor", "given a team"])
def test_a_user_page_made_stale_by_someone_else_saves_nothing(
    as_admin, admin_user, agent, other_team, meanwhile
):
    """The page would have written back what it showed: reactivated someone, undone a role,
    taken a team (and its work) away again."""
    url = f"/admin/accounts/user/{agent.pk}/change/"
    data = form_data(as_admin.get(url), "user_form")
    data["full_name"] = "Alex A. Agent"
    changes = {
        "deactivated": {"is_active": False},
        "made a supervisor": {"role": Role.SUPERVISOR},
        "given a team": {"teams": [*agent.teams.all(), other_team]},
    }[meanwhile]
    user_update(user=User.objects.get(pk=agent.pk), by=admin_user, **changes)
    before = User.objects.values("full_name", "role", "is_active").get(pk=agent.pk)
    teams_before = set(User.objects.get(pk=agent.pk).teams.all())

    response = as_admin.post(url, data)

    assert response.status_code == 302
    assert response.url == url
    ((level, message),) = messages_of(response)
    assert level == "error"
    assert message.startswith("Nothing was saved: this user was changed by someone else")
    assert User.objects.values("full_name", "role", "is_active").get(pk=agent.pk) == before
    assert set(User.objects.get(pk=agent.pk).teams.all()) == teams_before
    # The page shown again saves, now that it shows what is there.
    again = form_data(as_admin.get(url), "user_form")
    again["full_name"] = "Alex A. Agent"
    assert as_admin.post(url, again).status_code == 302
    assert User.objects.get(pk=agent.pk).full_name == "Alex A. Agent"


def test_a_team_page_made_stale_by_a_new_member_saves_nothing(as_supervisor, supervisor, team):
    """Renaming from a page opened before someone joined would have taken them out again (and
    given their work back)."""
    url = f"/admin/accounts/team/{team.pk}/change/"
    data = form_data(as_supervisor.get(url), "team_form")
    data["name"] = "Support desk"
    newcomer = AgentFactory()
    team_update(team=team, by=supervisor, members=[*team.members.all(), newcomer])

    response = as_supervisor.post(url, data)

    assert response.status_code == 302
    assert messages_of(response)[0][1].startswith("Nothing was saved: this team was changed")
    team.refresh_from_db()
    assert team.name == "Support"
    assert newcomer in team.members.all()


@pytest.mark.parametrize("status", [WorkOrderStatus.VERIFIED, WorkOrderStatus.CANCELLED])
def test_the_rows_of_finished_work_are_shown_read_only(as_supervisor, team, agent, status):
    wo = WorkOrderFactory(team=team, status=status, assignee=agent)
    ChecklistItemFactory(work_order=wo, text="Drain the tank")
    TimeEntryFactory(work_order=wo, user=agent, minutes=30)

    response = as_supervisor.get(change_url(wo))
    data = form_data(response, "workorder_form")

    assert "Drain the tank" in response.content.decode()
    assert not {"checklist-0-text", "checklist-1-text", "time_entries-0-minutes"} & set(data)
    assert data["checklist-TOTAL_FORMS"] == "1"  # the existing row, no blank one to add
    assert data["time_entries-TOTAL_FORMS"] == "1"


@pytest.mark.parametrize(
    "url",
    [
        f"{TICKETS}?status__exact=%00",
        f"{WORK_ORDERS}?priority__exact=%00",
        f"{TICKETS}?title=%00",
        "/admin/accounts/user/?role__exact=%00",
        "/admin/accounts/team/?name=%00",
    ],
)
def test_a_nul_character_in_a_change_list_filter_is_not_an_error_page(as_admin, url):
    """PostgreSQL's text cannot hold one (a 500 there); answered as any filter the list cannot
    apply, on every database."""
    response = as_admin.get(url)

    assert response.status_code == 302
    assert response.url.endswith("?e=1")
    assert as_admin.get(response.url).status_code == 200


def test_a_user_page_shown_again_with_errors_is_not_taken_for_a_stale_one(as_admin, team):
    """A requester given a team first (refused: only workers), then the role agent as well:
    the page shown again must still be taken for the one first shown (no teams then)."""
    requester = RequesterFactory(full_name=" Rita ")  # a stored value the form would trim
    url = f"/admin/accounts/user/{requester.pk}/change/"
    data = form_data(as_admin.get(url), "user_form")
    data["teams"] = [str(team.pk)]

    refused = as_admin.post(url, data)
    again = form_data(refused, "user_form")
    again["role"] = Role.AGENT
    saved = as_admin.post(url, again)

    assert refused.status_code == 200
    assert "Only active agents and supervisors can be team members." in refused.content.decode()
    assert saved.status_code == 302, messages_of(saved)
    assert messages_of(saved)[0][0] == "success"
    requester = User.objects.get(pk=requester.pk)
    assert (requester.role, list(requester.teams.all())) == (Role.AGENT, [team])


def test_a_team_page_shown_again_with_errors_is_not_taken_for_a_stale_one(as_supervisor):
    empty, worker = TeamFactory(name="Empty"), AgentFactory()
    TeamFactory(name="Taken")
    url = f"/admin/accounts/team/{empty.pk}/change/"
    data = form_data(as_supervisor.get(url), "team_form")
    data.update(members=[str(worker.pk)], name="taken")

    refused = as_supervisor.post(url, data)
    again = form_data(refused, "team_form")
    again["name"] = "Night shift"
    saved = as_supervisor.post(url, again)

    assert refused.status_code == 200
    assert saved.status_code == 302, messages_of(saved)
    empty.refresh_from_db()
    assert (empty.name, list(empty.members.all())) == ("Night shift", [worker])


def test_a_supervisor_viewing_a_user_sees_no_version_stamp(as_supervisor, agent):
    page = as_supervisor.get(f"/admin/accounts/user/{agent.pk}/change/").content.decode()

    assert "shown_version" not in page
    assert "Shown version" not in page


@pytest.mark.parametrize(
    "url",
    [
        f"{TICKETS}?title__regex=%5B",
        f"{TICKETS}?due_at__year=99999",
        f"{TICKETS}?id__range=1",
        "/admin/accounts/user/?email__regex=%5B",
        "/admin/accounts/team/?id__range=1",
        # An annotation of the list (the time logged), not a field of the model.
        "/admin/workorders/workorder/?actual_minutes__regex=%5B",
        "/admin/workorders/workorder/?actual_minutes__range=1",
    ],
)
def test_a_lookup_beyond_plain_comparisons_is_refused(as_admin, open_ticket, work_order, url):
    """Django lets any lookup on a model's own fields through the query string; these failed
    in the database or in Python (an error page)."""
    response = as_admin.get(url)

    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "status__exact=open",
        "status=open",
        "team__id__exact=1",
        "assignee__isnull=True",
        "created_at__gte=2026-01-01+00%3A00%3A00%2B00%3A00&created_at__lt=2027-01-01+00%3A00%3A00%2B00%3A00",
        "overdue=yes",
        "id__in=1,2",
    ],
)
def test_the_filters_lookups_and_plain_comparisons_still_filter(as_admin, open_ticket, query):
    assert as_admin.get(f"{TICKETS}?{query}").status_code == 200


@pytest.mark.parametrize("selected", ["abc", "", "²"])
def test_an_action_on_a_selection_that_names_no_row_does_nothing(
    as_supervisor, open_ticket, agent, selected
):
    response = as_supervisor.post(
        TICKETS, {"action": "assign_to_me", "_selected_action": [str(open_ticket.pk), selected]}
    )

    assert response.status_code == 302
    assert errors_of(response) == ["Select rows by their boxes: nothing was done."]
    open_ticket.refresh_from_db()
    assert open_ticket.assignee_id == agent.pk  # the supervisor's own "assign to me" not done


def test_assign_to_me_is_offered_to_those_who_may_hold_work(admin_user, supervisor):
    """An admin holds no work: every row the action was tried on failed."""
    offered = {}
    for user in (admin_user, supervisor):
        browser = Client()
        browser.force_login(user)
        offered[user.role] = 'value="assign_to_me"' in browser.get(TICKETS).content.decode()

    assert offered == {"admin": False, "supervisor": True}


def test_an_admin_adds_an_agent_with_their_teams_in_one_save(as_admin, team, other_team):
    """The add page had no teams: a new agent took a second save to join one."""
    data = form_data(as_admin.get("/admin/accounts/user/add/"), "user_form")
    data.update(email="kim@example.com", role=Role.AGENT, usable_password="false")
    data["teams"] = [str(team.pk), str(other_team.pk)]

    response = as_admin.post("/admin/accounts/user/add/", data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert set(User.objects.get(email="kim@example.com").teams.all()) == {team, other_team}


def test_a_requester_added_with_teams_is_refused_on_the_teams(as_admin, team):
    data = form_data(as_admin.get("/admin/accounts/user/add/"), "user_form")
    data.update(email="rita@example.com", role=Role.REQUESTER, usable_password="false")
    data["teams"] = [str(team.pk)]

    response = as_admin.post("/admin/accounts/user/add/", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["teams"] == [NOT_A_WORKER]
    assert not User.objects.filter(email="rita@example.com").exists()


def test_a_row_deleted_meanwhile_in_a_bulk_action_is_reported_and_the_others_go_through(
    as_supervisor, team, monkeypatch
):
    """The service found the row gone (a 404): the whole action was a 404 page."""
    kept, gone = (TicketFactory(team=team, status=TicketStatus.RESOLVED) for _ in range(2))
    fire = workflow.fire

    def deleted_meanwhile(obj, **kwargs):
        if obj.pk == gone.pk:
            Ticket.objects.filter(pk=gone.pk).delete()
        return fire(obj, **kwargs)

    monkeypatch.setattr(workflow, "fire", deleted_meanwhile)

    response = as_supervisor.post(
        TICKETS, {"action": "fire_close", "_selected_action": [kept.pk, gone.pk]}
    )

    assert response.status_code == 302
    assert errors_of(response) == [f"{gone}: deleted meanwhile."]
    assert Ticket.objects.get(pk=kept.pk).status == TicketStatus.CLOSED
