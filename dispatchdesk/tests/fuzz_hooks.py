"""Schemathesis hooks of the fuzz test (test_fuzz.py passes this file as SCHEMATHESIS_HOOKS)."""

import schemathesis

# gunicorn refuses a request line (method, path and query) longer than this many bytes with a
# 414 page of its own, before any of DispatchDesk runs (docs/reliability.md).
GUNICORN_REFUSAL = b"Request Line is too large"


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Every failure counts but gunicorn's refusal of an overlong request line: the fuzzer's
    stateful phase repeats query parameters until the line passes 4 KiB."""
    return not (response.status_code == 414 and GUNICORN_REFUSAL in response.content)
