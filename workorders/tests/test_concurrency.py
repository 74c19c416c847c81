"""Work-order requests fired at once on PostgreSQL: exactly one of conflicting changes wins,
nothing is lost, and history matches the final state."""

import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.services import team_update, user_update
from accounts.tests.factories import AgentFactory
from dispatchdesk import workflow
from dispatchdesk.models import Event
from dispatchdesk.tests.concurrency import send_all_at_once
from tickets.models import Ticket
from tickets.services import comment_add
from tickets.tests.factories import TicketFactory
from workorders.choices import ACTIVE_STATUSES
from workorders.models import ChecklistItem, TimeEntry, WorkOrder
from workorders.services import work_order_update

from .factories import WorkOrderFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks need PostgreSQL; SQLite serializes whole-database writes instead",
    ),
]

URL = "/api/v1/work-orders/"


def statuses(responses) -> list[int]:
    return [response.status_code for response in responses]


def test_verify_and_rework_at_once_one_wins(cast):
    work_order = WorkOrderFactory(team=cast["team"], status="completed", assignee=cast["assignee"])
    url = f"{URL}{work_order.pk}/transitions/"
    bodies = [{"name": "verify"}, {"name": "rework", "note": "The seal still leaks"}] * 4

    responses = send_all_at_once([(cast["supervisor"], "post", url, b) for b in bodies])

    codes = statuses(responses)
    assert sorted(codes) == [200] + [409] * 7, [r.json() for r in responses]
    winner = bodies[codes.index(200)]["name"]
    work_order.refresh_from_db()
    assert work_order.status == {"verify": "verified", "rework": "in_progress"}[winner]
    event = Event.objects.for_object(work_order).get()
    assert event.type == "status_changed"
    assert (event.data["transition"], event.data["from"], event.data["to"]) == (
        winner,
        "completed",
        work_order.status,
    )
    assert responses[codes.index(200)].json()["status"] == work_order.status


def test_the_same_transition_at_once_happens_once(cast):
    work_order = WorkOrderFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    url = f"{URL}{work_order.pk}/transitions/"

    responses = send_all_at_once([(cast["assignee"], "post", url, {"name": "start"})] * 6)

    assert sorted(statuses(responses)) == [200] + [409] * 5
    assert Event.objects.for_object(work_order).filter(type="status_changed").count() == 1


def test_two_agents_taking_the_same_work_order_at_once_one_gets_it(cast):
    work_order = WorkOrderFactory(team=cast["team"], status="open")
    url = f"{URL}{work_order.pk}/assign/"
    takers = [cast["assignee"], cast["team_agent"]]

    responses = send_all_at_once([(u, "post", url, {"assignee": u.pk}) for u in takers])

    codes = statuses(responses)
    assert sorted(codes) == [200, 403]
    winner = takers[codes.index(200)]
    work_order.refresh_from_db()
    assert work_order.assignee == winner
    event = Event.objects.for_object(work_order).get()
    assert (event.type, event.data) == ("assigned", {"from": None, "to": winner.pk})


def test_time_logged_at_once_is_all_kept(cast):
    work_order = WorkOrderFactory(
        team=cast["team"], status="in_progress", assignee=cast["assignee"]
    )
    url = f"{URL}{work_order.pk}/time-entries/"
    people = [cast["assignee"], cast["supervisor"]] * 4

    responses = send_all_at_once([(u, "post", url, {"minutes": 10}) for u in people])

    assert statuses(responses) == [201] * 8
    assert TimeEntry.objects.filter(work_order=work_order).count() == 8
    assert Event.objects.for_object(work_order).filter(type="time_logged").count() == 8
    detail = APIClient()
    detail.force_authenticate(cast["supervisor"])
    assert detail.get(f"{URL}{work_order.pk}/").json()["actual_minutes"] == 80


def test_checklist_items_added_at_once_get_distinct_places(cast):
    work_order = WorkOrderFactory(team=cast["team"], assignee=cast["assignee"])
    url = f"{URL}{work_order.pk}/checklist/"

    responses = send_all_at_once(
        [(cast["supervisor"], "post", url, {"text": f"Step {n}"}) for n in range(6)]
    )

    assert statuses(responses) == [201] * 6
    positions = sorted(work_order.checklist.values_list("position", flat=True))
    assert positions == list(range(6))
    assert ChecklistItem.objects.count() == 6


def assert_no_resolved_ticket_has_active_work(ticket):
    ticket = Ticket.objects.get(pk=ticket.pk)
    active = WorkOrder.objects.filter(ticket=ticket, status__in=ACTIVE_STATUSES)
    if ticket.status == "resolved":
        assert not active.exists(), f"resolved ticket #{ticket.pk} has active work orders"


# The resolve starts together with the create or a little later, so that each may win.
@pytest.mark.parametrize("resolve_delay", [0, 0, 0.005, 0.01, 0.02, 0.05])
def test_resolve_racing_a_new_linked_work_order_never_leaves_active_work(cast, resolve_delay):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])

    resolved, created = send_all_at_once(
        [
            (
                cast["supervisor"],
                "post",
                f"/api/v1/tickets/{ticket.pk}/transitions/",
                {"name": "resolve", "resolution": "Fixed remotely"},
            ),
            (cast["team_agent"], "post", URL, {"title": "Site visit", "ticket": ticket.pk}),
        ],
        delays=[resolve_delay, 0],
    )

    outcome = (resolved.status_code, created.status_code)
    assert outcome in {(200, 409), (409, 201)}, (resolved.json(), created.json())
    assert_no_resolved_ticket_has_active_work(ticket)
    linked = Event.objects.for_object(ticket).filter(type="work_order_linked")
    if outcome == (200, 409):
        assert not WorkOrder.objects.exists()
        assert not linked.exists()
    else:
        work_order = WorkOrder.objects.get()
        assert f"#{work_order.pk}" in resolved.json()["detail"]
        assert linked.get().data["work_order"] == work_order.pk
        assert Ticket.objects.get(pk=ticket.pk).status == "open"


@pytest.mark.parametrize("resolve_delay", [0, 0.005, 0.02])
def test_resolve_racing_linking_an_existing_work_order_never_leaves_active_work(
    cast, resolve_delay
):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    work_order = WorkOrderFactory(team=cast["team"])

    resolved, linked = send_all_at_once(
        [
            (
                cast["supervisor"],
                "post",
                f"/api/v1/tickets/{ticket.pk}/transitions/",
                {"name": "resolve", "resolution": "Fixed remotely"},
            ),
            (cast["team_agent"], "patch", f"{URL}{work_order.pk}/", {"ticket": ticket.pk}),
        ],
        delays=[resolve_delay, 0],
    )

    outcome = (resolved.status_code, linked.status_code)
    assert outcome in {(200, 409), (409, 200)}, (resolved.json(), linked.json())
    assert_no_resolved_ticket_has_active_work(ticket)
    work_order.refresh_from_db()
    assert (work_order.ticket_id == ticket.pk) == (outcome == (409, 200))


def test_many_creates_and_one_resolve_at_once(cast):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    resolve = (
        cast["supervisor"],
        "post",
        f"/api/v1/tickets/{ticket.pk}/transitions/",
        {"name": "resolve", "resolution": "Fixed remotely"},
    )
    create = (cast["team_agent"], "post", URL, {"title": "Visit", "ticket": ticket.pk})

    responses = send_all_at_once([create, create, resolve, create, create])

    codes = statuses(responses)
    assert set(codes) <= {200, 201, 409}, [r.json() for r in responses]
    assert_no_resolved_ticket_has_active_work(ticket)
    created = codes.count(201)
    assert WorkOrder.objects.filter(ticket=ticket).count() == created
    events = Event.objects.for_object(ticket)
    assert events.filter(type="work_order_linked").count() == created
    assert events.filter(type="status_changed").count() == (1 if codes[2] == 200 else 0)


@pytest.mark.parametrize("round", range(8))
def test_deactivating_an_assignee_while_their_work_orders_change(cast, round):
    """Giving back the person's work locks what their work orders' changes lock, in the same
    order: otherwise each waits for the other and PostgreSQL ends one of them (a 503)."""
    agent = AgentFactory(teams=[cast["team"]])
    requests = [(cast["admin"], "patch", f"/api/v1/users/{agent.pk}/", {"is_active": False})]
    for _ in range(3):
        ticket = TicketFactory(team=cast["team"], status="in_progress", assignee=agent)
        work_order = WorkOrderFactory(team=cast["team"], ticket=ticket, assignee=agent)
        requests += [
            (cast["supervisor"], "post", f"{URL}{work_order.pk}/time-entries/", {"minutes": 5}),
            (cast["supervisor"], "post", f"{URL}{work_order.pk}/transitions/", {"name": "start"}),
        ]

    responses = send_all_at_once(requests)

    codes = statuses(responses)
    assert codes[:2] == [200, 201] and codes[3::2] == [201, 201]
    # A start that comes after the work order was given back finds no assignee.
    assert set(codes[2::2]) <= {200, 409}
    assert not Ticket.objects.filter(assignee=agent).exists()
    assert not WorkOrder.objects.filter(assignee=agent).exists()


def test_assigning_someone_while_they_leave_the_team_never_leaves_them_its_work(cast):
    """The assignment waits for the person's removal from the team to commit, then sees it (a
    400); before, it passed the membership check and the work stayed with someone outside."""
    team, supervisor = cast["team"], cast["supervisor"]
    leaving = AgentFactory(teams=[team])
    ticket = TicketFactory(team=team, status="open")
    removed, commit = threading.Event(), threading.Event()
    answers = []

    def remove_from_team():
        try:
            with transaction.atomic():
                staying = [member for member in team.members.all() if member != leaving]
                team_update(team=team, by=supervisor, members=staying)
                removed.set()
                commit.wait(timeout=10)
        finally:
            connection.close()

    def assign():
        try:
            client = APIClient()
            token = RefreshToken.for_user(supervisor).access_token
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            url = f"/api/v1/tickets/{ticket.pk}/assign/"
            answers.append(client.post(url, {"assignee": leaving.pk}, format="json"))
        finally:
            connection.close()

    remover = threading.Thread(target=remove_from_team)
    remover.start()
    assert removed.wait(timeout=10)
    assigner = threading.Thread(target=assign)
    assigner.start()
    assigner.join(timeout=1.5)  # it waits for the removal's lock, or has already answered
    commit.set()
    remover.join(timeout=10)
    assigner.join(timeout=10)

    assert answers[0].status_code == 400, answers[0].json()
    ticket.refresh_from_db()
    assert ticket.assignee is None


def hold_then(first, second) -> dict:
    """Run `first` in a transaction that holds its locks a moment before it commits, and
    `second` meanwhile, each on its own connection: what either raised, by name."""
    holding, errors = threading.Event(), {}

    def run(name, work, before=None, after=None):
        try:
            if before:
                before.wait(timeout=10)
            with transaction.atomic():
                work()
                if after:
                    after.set()
                    time.sleep(1)
        except Exception as error:  # reported, not raised: the other thread must finish too
            errors[name] = repr(error)
        finally:
            holding.set()
            connection.close()

    threads = [
        threading.Thread(target=run, args=("first", first, None, holding)),
        threading.Thread(target=run, args=("second", second, holding)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.parametrize(
    "case", ["comment, then assign", "edit, then deactivate", "edit, then leave"]
)
def test_locking_a_person_never_deadlocks_with_work_that_names_them(cast, case):
    """The person's row is locked `FOR NO KEY UPDATE`: a plain FOR UPDATE holds back the
    foreign-key check that a write naming them (an event's actor) makes at commit, while the
    locker waits for that write's ticket or work order (PostgreSQL: deadlock detected)."""
    assignee, supervisor = cast["assignee"], cast["supervisor"]
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"])
    work_order = WorkOrderFactory(team=cast["team"], assignee=assignee)
    team_agent = cast["team_agent"]
    edit = lambda: work_order_update(work_order=work_order, by=assignee, changes={"title": "x"})  # noqa: E731
    first, second = {
        "comment, then assign": (
            lambda: comment_add(ticket=ticket, by=team_agent, body="Looking"),
            lambda: workflow.assign(ticket, by=supervisor, to=team_agent),
        ),
        "edit, then deactivate": (
            edit,
            lambda: user_update(user=assignee, by=cast["admin"], is_active=False),
        ),
        "edit, then leave": (
            edit,
            lambda: team_update(team=cast["team"], by=cast["admin"], members=[team_agent]),
        ),
    }[case]

    assert hold_then(first, second) == {}
