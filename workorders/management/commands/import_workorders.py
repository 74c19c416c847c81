from dispatchdesk.bulk import ImportCommand
from workorders.imports import WorkOrderImport


class Command(ImportCommand):
    help = (
        "Create or update work orders from a CSV or JSON file, matched by external_ref; "
        "ticket_ref names a ticket by its external_ref. Import the tickets first."
    )
    importer_class = WorkOrderImport
