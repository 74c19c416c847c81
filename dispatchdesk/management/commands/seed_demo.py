from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.choices import Role
from accounts.models import DEFAULT_TEAM_NAME, Team, User
from accounts.services import user_create

DEMO_PASSWORD = "dispatch-demo-2026"
DEMO_TEAMS = [DEFAULT_TEAM_NAME, "IT Support", "Facilities"]
DEMO_USERS = [
    ("requester@example.com", "Rita Requester", Role.REQUESTER, []),
    ("agent@example.com", "Alex Agent", Role.AGENT, ["IT Support", DEFAULT_TEAM_NAME]),
    ("agent2@example.com", "Fran Fixer", Role.AGENT, ["Facilities"]),
    ("supervisor@example.com", "Sam Supervisor", Role.SUPERVISOR, DEMO_TEAMS),
    ("admin@example.com", "Ada Admin", Role.ADMIN, []),
]


class Command(BaseCommand):
    help = "Load demo teams and one user per role into an empty database (for `make run`)."

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("The database already has users: demo data not loaded.")
            return
        with transaction.atomic():
            teams = {name: Team.objects.get_or_create(name=name)[0] for name in DEMO_TEAMS}
            for email, full_name, role, team_names in DEMO_USERS:
                user_create(
                    email=email,
                    password=DEMO_PASSWORD,
                    full_name=full_name,
                    role=role,
                    teams=[teams[name] for name in team_names],
                )
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Log in with:"))
        for email, _, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<10} {email:<24} password: {DEMO_PASSWORD}")
