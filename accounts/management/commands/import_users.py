from accounts.imports import UserImport
from dispatchdesk.bulk import ImportCommand


class Command(ImportCommand):
    help = (
        "Create or update users from a CSV or JSON file (email, full_name, role, teams), "
        "matched by email. New users get no usable password until an admin sets one."
    )
    importer_class = UserImport
