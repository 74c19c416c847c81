from dispatchdesk.bulk import ExportCommand
from workorders.imports import WORK_ORDER_COLUMNS, work_order_export_rows


class Command(ExportCommand):
    help = "Write every work order as CSV or JSON, in the columns import_workorders reads."
    noun = "work orders"
    columns = WORK_ORDER_COLUMNS

    def rows(self):
        return work_order_export_rows()
