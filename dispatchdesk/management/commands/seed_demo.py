from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.choices import Role
from accounts.models import DEFAULT_TEAM_NAME, Team, User
from accounts.services import user_create
from dispatchdesk import workflow
from tickets.services import comment_add, ticket_create, ticket_update
from workorders.services import (
    checklist_add,
    checklist_update,
    time_entry_add,
    work_order_create,
)

DEMO_PASSWORD = "dispatch-demo-2026"
DEMO_TEAMS = [DEFAULT_TEAM_NAME, "IT Support", "Facilities"]
DEMO_USERS = [
    ("requester@example.com", "Rita Requester", Role.REQUESTER, []),
    ("agent@example.com", "Alex Agent", Role.AGENT, ["IT Support", DEFAULT_TEAM_NAME]),
    ("agent2@example.com", "Fran Fixer", Role.AGENT, ["Facilities"]),
    ("supervisor@example.com", "Sam Supervisor", Role.SUPERVISOR, DEMO_TEAMS),
    ("admin@example.com", "Ada Admin", Role.ADMIN, []),
]

# (title, team, priority, the path through the lifecycle as (who, transition, inputs))
DEMO_TICKETS = [
    ("Printer on floor 2 is jammed", "IT Support", "normal", []),
    ("Request a second monitor", "IT Support", "low", [("agent", "triage", {})]),
    (
        "VPN drops every few minutes",
        "IT Support",
        "high",
        [("agent", "triage", {}), ("agent", "take", {}), ("agent", "start", {})],
    ),
    (
        "Air conditioning in room 4 is noisy",
        "Facilities",
        "normal",
        [
            ("agent2", "triage", {}),
            ("agent2", "take", {}),
            ("agent2", "hold", {"note": "Waiting for the contractor's visit on Monday."}),
        ],
    ),
    (
        "Cannot log into the expense tool",
        "IT Support",
        "urgent",
        [
            ("agent", "triage", {}),
            ("agent", "take", {}),
            ("agent", "start", {}),
            ("agent", "resolve", {"resolution": "Password reset; account unlocked."}),
        ],
    ),
    (
        "Broken chair in the meeting room",
        "Facilities",
        "low",
        [
            ("agent2", "triage", {}),
            ("agent2", "take", {}),
            ("agent2", "resolve", {"resolution": "Chair replaced."}),
            ("requester", "close", {}),
        ],
    ),
    (
        "Order new toner",
        DEFAULT_TEAM_NAME,
        "normal",
        [("requester", "cancel", {"note": "Found a spare cartridge."})],
    ),
]

SOON = timedelta(days=1)
CHECKLIST = ["Isolate the power", "Inspect and clean", "Test and sign off"]
# (title, team, linked ticket title or None, path as (who, step, inputs)); steps are
# transitions, or "take", "log" (minutes) and "tick" (the whole checklist).
DEMO_WORK_ORDERS = [
    ("Quarterly fire extinguisher check", "Facilities", None, []),
    (
        "Replace the noisy fan in room 4",
        "Facilities",
        "Air conditioning in room 4 is noisy",
        [("agent2", "take", {}), ("agent2", "schedule", {"scheduled_start": SOON})],
    ),
    (
        "Swap the VPN appliance's power supply",
        "IT Support",
        "VPN drops every few minutes",
        [("agent", "take", {}), ("agent", "start", {}), ("agent", "log", {"minutes": 40})],
    ),
    (
        "Service the lift",
        "Facilities",
        None,
        [
            ("agent2", "take", {}),
            ("agent2", "start", {}),
            ("agent2", "pause", {"note": "Waiting for a spare part."}),
        ],
    ),
    (
        "Clean the server room filters",
        "IT Support",
        None,
        [
            ("agent", "take", {}),
            ("agent", "start", {}),
            ("agent", "log", {"minutes": 55}),
            ("agent", "tick", {}),
            ("agent", "complete", {"completion_notes": "All filters cleaned."}),
        ],
    ),
    (
        "Repaint the entrance door",
        "Facilities",
        None,
        [
            ("agent2", "take", {}),
            ("agent2", "start", {}),
            ("agent2", "log", {"minutes": 120}),
            ("agent2", "tick", {}),
            ("agent2", "complete", {"completion_notes": "Two coats."}),
            ("supervisor", "verify", {}),
        ],
    ),
    (
        "Move the printer to floor 3",
        "IT Support",
        None,
        [("supervisor", "cancel", {"note": "The printer stays where it is."})],
    ),
]


class Command(BaseCommand):
    help = (
        "Load demo teams, one user per role, and tickets and work orders in every status "
        "into an empty database."
    )

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("The database already has users: demo data not loaded.")
            return
        with transaction.atomic():
            teams = {name: Team.objects.get_or_create(name=name)[0] for name in DEMO_TEAMS}
            users = {}
            for email, full_name, role, team_names in DEMO_USERS:
                users[email.split("@")[0]] = user_create(
                    email=email,
                    password=DEMO_PASSWORD,
                    full_name=full_name,
                    role=role,
                    teams=[teams[name] for name in team_names],
                )
            tickets = {
                title: self.create_ticket(users, teams[team], title, priority, path)
                for title, team, priority, path in DEMO_TICKETS
            }
            for title, team, ticket_title, path in DEMO_WORK_ORDERS:
                self.create_work_order(users, teams[team], tickets.get(ticket_title), title, path)
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Log in with:"))
        for email, _, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<10} {email:<24} password: {DEMO_PASSWORD}")

    def create_ticket(self, users, team, title, priority, path):
        ticket = ticket_create(
            by=users["requester"],
            title=title,
            priority=priority,
            team=team,
            description=f"{title}. Reported through the demo data.",
        )
        comment_add(ticket=ticket, by=users["requester"], body="Thanks for looking into it!")
        for who, name, inputs in path:
            if name == "take":
                ticket = workflow.assign(ticket, by=users[who], to=users[who])
                comment_add(ticket=ticket, by=users[who], body="Checked the logs.", internal=True)
            else:
                ticket = workflow.fire(ticket, name=name, by=users[who], inputs=inputs)
        if priority == "high":
            # One overdue ticket, so that overdue filters and columns show something.
            overdue = {"due_at": timezone.now() - timedelta(hours=2)}
            ticket = ticket_update(ticket=ticket, by=users["supervisor"], changes=overdue)
        return ticket

    def create_work_order(self, users, team, ticket, title, path):
        work_order = work_order_create(
            by=users["supervisor"],
            title=title,
            team=team,
            ticket=ticket,
            location="Head office",
            estimated_minutes=60,
        )
        items = [
            checklist_add(work_order=work_order, by=users["supervisor"], text=text)
            for text in CHECKLIST
        ]
        for who, step, inputs in path:
            if step == "take":
                work_order = workflow.assign(work_order, by=users[who], to=users[who])
            elif step == "log":
                time_entry_add(work_order=work_order, by=users[who], **inputs)
            elif step == "tick":
                for item in items:
                    checklist_update(item=item, by=users[who], done=True)
            else:
                if "scheduled_start" in inputs:
                    inputs = {"scheduled_start": timezone.now() + inputs["scheduled_start"]}
                work_order = workflow.fire(work_order, name=step, by=users[who], inputs=inputs)
        return work_order
