from dispatchdesk.bulk import ExportCommand
from tickets.imports import TICKET_COLUMNS, ticket_export_rows


class Command(ExportCommand):
    help = "Write every ticket as CSV or JSON, in the columns import_tickets reads."
    noun = "tickets"
    columns = TICKET_COLUMNS

    def rows(self):
        return ticket_export_rows()
