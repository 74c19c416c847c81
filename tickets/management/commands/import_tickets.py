from dispatchdesk.bulk import ImportCommand
from tickets.imports import TicketImport


class Command(ImportCommand):
    help = (
        "Create or update tickets from a CSV or JSON file, matched by external_ref. "
        "Import the users and teams they name first."
    )
    importer_class = TicketImport
