from dispatchdesk.bulk import ExportCommand
from workorders.imports import WORK_ORDER_COLUMNS, work_order_export_rows


class Command(ExportCommand):
    help = "Write every work order as CSV or JSON, in the columns import_workorders reads."
    noun = "work orders"
    columns = WORK_ORDER_COLUMNS

    def rows(self):
        self.links_lost = 0
        for row, linked in work_order_export_rows():
            self.links_lost += linked and not row["ticket_ref"]
            yield row

    def notes(self) -> list[str]:
        if not self.links_lost:
            return []
        return [
            f"{self.links_lost:,} of them belong to a ticket without an external_ref: an import "
            "would bring them in as work orders of no ticket."
        ]
