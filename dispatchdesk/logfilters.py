"""A filter of the log configuration (settings.LOGGING)."""

import logging


class WithoutTraceback(logging.Filter):
    """Keeps a record's message and drops its traceback: for refusals that anyone on the
    internet can cause (a request naming another host), where the traceback says nothing new and
    would fill the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = record.exc_text = None
        return True
