from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dispatchdesk.workflow import lifecycle_markdown

# model label -> the file under docs/ that shows its lifecycle
DIAGRAMS = {
    "tickets.Ticket": "ticket-lifecycle.md",
    "workorders.WorkOrder": "work-order-lifecycle.md",
}


def diagram_path(filename: str) -> Path:
    return Path(settings.BASE_DIR) / "docs" / filename


class Command(BaseCommand):
    help = "Write the lifecycle diagrams in docs/ from the models' transitions."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Fail if a diagram is out of date."
        )

    def handle(self, *args, check=False, **options):
        stale = []
        for label, filename in DIAGRAMS.items():
            path, text = diagram_path(filename), lifecycle_markdown(apps.get_model(label))
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
                continue
            path.write_text(text)
            self.stdout.write(f"wrote {path}")
        if stale:
            raise CommandError(f"Out of date: {', '.join(stale)}; run lifecycle_diagrams.")
