"""A supervisor's morning in the admin, driven in a real browser (Debian's Chromium).

Set SCREENSHOTS_DIR=docs/screenshots to refresh the screenshots that the README shows.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from accounts.tests.factories import PASSWORD, AgentFactory, SupervisorFactory, TeamFactory
from dispatchdesk.models import Event
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser(django_db_setup):
    assert Path(CHROMIUM).exists(), "install Chromium: apt-get install -y chromium"
    # Playwright's sync API keeps an event loop running in this thread, which Django takes
    # for an async context; the ORM calls made here are synchronous all the same.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def desk():
    team = TeamFactory(name="IT Support")
    agent = AgentFactory(teams=[team], full_name="Alex Agent")
    supervisor = SupervisorFactory(
        teams=[team], email="sam@example.com", full_name="Sam Supervisor"
    )
    tickets = {
        "printer": TicketFactory(team=team, title="Printer jammed on floor 2"),
        "vpn": TicketFactory(team=team, title="VPN drops", status="open", assignee=agent),
        "wifi": TicketFactory(
            team=team,
            title="Wifi slow",
            status="open",
            priority="high",
            due_at=timezone.now() - timedelta(hours=3),
        ),
        "monitor": TicketFactory(
            team=team, title="Second monitor", status="resolved", assignee=agent
        ),
        "chair": TicketFactory(team=team, title="Broken chair", status="resolved"),
        "toner": TicketFactory(team=team, title="Order toner", status="closed"),
    }
    return {"team": team, "agent": agent, "supervisor": supervisor, "tickets": tickets}


def screenshot(page, tmp_path, name):
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def log_in(page, live_server, email):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def test_a_supervisor_works_the_queue_in_the_admin(page, live_server, desk, tmp_path):
    tickets = desk["tickets"]
    log_in(page, live_server, "sam@example.com")

    # The change list: filter by status, then search.
    page.goto(f"{live_server.url}/admin/tickets/ticket/")
    expect(page.locator("#result_list tbody tr")).to_have_count(6)
    screenshot(page, tmp_path, "admin-ticket-changelist")
    page.locator("#changelist-filter").get_by_role("link", name="Open", exact=True).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    page.fill("#searchbar", "VPN")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    # Open the ticket and fire transitions with the buttons.
    page.get_by_role("link", name="VPN drops").click()
    expect(page.locator("#current-status")).to_have_text("Open")
    hold = page.locator("form.dd-transition", has=page.locator("input[value=hold]"))
    hold.locator("textarea[name=note]").fill("Waiting for the provider")
    hold.get_by_role("button").click()
    expect(page.locator(".messagelist")).to_contain_text("Fired hold: the ticket is now on hold")
    expect(page.locator("#current-status")).to_have_text("On hold")
    resolve = page.locator("form.dd-transition", has=page.locator("input[value=resolve]"))
    resolve.get_by_role("button").click()  # the browser refuses: resolution is required
    expect(page.locator("#current-status")).to_have_text("On hold")
    resolve.locator("textarea[name=resolution]").fill("Provider fixed the line")
    resolve.get_by_role("button").click()
    expect(page.locator("#current-status")).to_have_text("Resolved")
    screenshot(page, tmp_path, "admin-ticket-change")

    # A bulk action over resolved tickets, one of which fails (already closed).
    page.goto(f"{live_server.url}/admin/tickets/ticket/")
    for key in ("monitor", "chair", "toner", "vpn"):
        page.locator(f"input.action-select[value='{tickets[key].pk}']").check()
    page.select_option("select[name=action]", "fire_close")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("Fired close: 3 tickets")
    expect(page.locator(".messagelist .error")).to_contain_text("Order toner")

    statuses = dict(Ticket.objects.values_list("title", "status"))
    assert statuses["VPN drops"] == "closed"
    assert statuses["Second monitor"] == statuses["Broken chair"] == "closed"
    assert statuses["Order toner"] == "closed"
    assert statuses["Printer jammed on floor 2"] == "new"
    vpn_history = [
        (e.type, e.data.get("transition"), e.actor_id)
        for e in Event.objects.for_object(tickets["vpn"])
    ]
    supervisor = desk["supervisor"].pk
    assert vpn_history == [
        ("status_changed", "hold", supervisor),
        ("status_changed", "resolve", supervisor),
        ("status_changed", "close", supervisor),
    ]
    assert Event.objects.for_object(tickets["vpn"])[1].data["resolution"] == (
        "Provider fixed the line"
    )
    assert not Event.objects.for_object(tickets["toner"]).exists()


def test_the_assign_to_me_action_and_the_overdue_filter(page, live_server, desk):
    tickets = desk["tickets"]
    log_in(page, live_server, "sam@example.com")

    page.goto(f"{live_server.url}/admin/tickets/ticket/?overdue=yes")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator(".dd-overdue")).to_have_count(1)
    page.locator(f"input.action-select[value='{tickets['wifi'].pk}']").check()
    page.select_option("select[name=action]", "assign_to_me")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("Assigned to you: 1 ticket")

    tickets["wifi"].refresh_from_db()
    assert tickets["wifi"].assignee == desk["supervisor"]
    event = Event.objects.for_object(tickets["wifi"]).get()
    assert (event.type, event.data) == ("assigned", {"from": None, "to": desk["supervisor"].pk})


def test_a_supervisor_imports_tickets_from_the_admin(page, live_server, desk, tmp_path):
    agent = desk["agent"].email
    header = "external_ref,title,team,requester_email,assignee_email,priority,status"
    rows = [
        f"T-1,Projector in room 4,IT Support,{agent},{agent},high,open",
        f"T-2,Badge reader,IT Support,{agent},,asap,new",  # a bad priority
        f"T-3,New laptop,IT Support,{agent},,low,new",
    ]
    upload = tmp_path / "tickets.csv"
    upload.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    log_in(page, live_server, "sam@example.com")

    page.goto(f"{live_server.url}/admin/tickets/ticket/")
    page.click("#import-link")
    page.set_input_files("input[type=file]", str(upload))
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#import-summary")).to_contain_text("2 to create")
    expect(page.locator("#import-errors")).to_contain_text("line 3: priority:")
    screenshot(page, tmp_path, "admin-ticket-import")
    assert not Ticket.objects.filter(external_ref__isnull=False).exists()

    page.get_by_role("button", name="Import the good rows, skip the 1 bad row").click()
    expect(page.locator(".messagelist")).to_contain_text("2 created")

    imported = dict(
        Ticket.objects.filter(external_ref__isnull=False).values_list("external_ref", "title")
    )
    assert imported == {"T-1": "Projector in room 4", "T-3": "New laptop"}


def test_agents_cannot_log_into_the_admin(page, live_server, desk):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", desk["agent"].email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    expect(page.locator(".errornote")).to_be_visible()
    page.goto(f"{live_server.url}/admin/tickets/ticket/")
    assert "/admin/login/" in page.url
