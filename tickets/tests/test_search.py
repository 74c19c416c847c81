"""`search` on tickets and work orders, the same on PostgreSQL and SQLite.

One term (no spaces) is found as typed anywhere in the title or description; several are words,
each found in any order. On PostgreSQL the queries are served by the GIN indexes of the
migrations (full-text in English for words, trigrams for the text as typed); there, words are
matched by their stems, and on SQLite as the start of a word.
"""

import pytest
from django.db import connection

from tickets.models import Ticket
from workorders.tests.factories import WorkOrderFactory

from .factories import TicketFactory

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
WORK_ORDERS = "/api/v1/work-orders/"


@pytest.fixture
def supervisor(client_for, cast):
    return client_for(cast["supervisor"])


@pytest.fixture
def tickets(cast):
    def make(title, description=""):
        return TicketFactory(
            title=title, description=description, team=cast["team"], requester=cast["requester"]
        )

    return {
        "fire": make("Printer on fire", "Smoke on floor 3, the mail_queue error again"),
        "jam": make("Printers jammed", "All of them"),
        "cafe": make("Café machine", "Leaks water"),
        "vpn": make("VPN down", "Cannot connect from home"),
        "code": make("Login fails", "Error E4521 after the update"),
    }


def found(client, url=TICKETS, **params) -> set[int]:
    response = client.get(url, {**params, "page_size": 200})
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["count"] == len(body["results"])
    return {row["id"] for row in body["results"]}


def pks(tickets, *names) -> set[int]:
    return {tickets[name].pk for name in names}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("printer", {"fire", "jam"}),  # a word and a longer one
        ("PRINTER", {"fire", "jam"}),  # any case
        ("rinter", {"fire", "jam"}),  # one term: anywhere, also inside a word
        ("e4521", {"code"}),
        ("mail_queue", {"fire"}),  # `_` is a character like any other
        ("café", {"cafe"}),
        ("zebra", set()),
        ("  vpn  ", {"vpn"}),  # surrounding spaces do not count
    ],
)
def test_one_term_is_found_as_typed_in_the_title_or_description(
    supervisor, tickets, text, expected
):
    assert found(supervisor, search=text) == pks(tickets, *expected)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite folds ASCII letters only")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CAFÉ", {"cafe", "dotted"}),  # a term that is not ASCII: every letter in either case
        ("ПРИНТЕР", {"russian"}),
        ("принтер", {"russian"}),
        ("σοφία", {"greek"}),  # "ΣΟΦΊΑ": σ is the lower case of Σ
        ("é.n", {"dotted"}),  # a regular expression's characters are taken literally
        ("éxn", set()),
        ("fire", {"fire"}),  # an ASCII term folds ASCII letters: a dotless ı is not an i
    ],
)
def test_on_postgresql_a_term_beyond_ascii_ignores_the_case_of_every_letter(
    supervisor, tickets, cast, text, expected
):
    # Descriptions given, not left to the factory: its random English words include "fire".
    more = {
        **tickets,
        "russian": TicketFactory(title="Принтер не печатает", description="", team=cast["team"]),
        "greek": TicketFactory(title="ΣΟΦΊΑ", description="", team=cast["team"]),
        "dotless": TicketFactory(title="Fıre alarm", description="", team=cast["team"]),
        "dotted": TicketFactory(title="Menu", description="See café.net", team=cast["team"]),
    }

    assert found(supervisor, search=text) == {more[name].pk for name in expected}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("printer fire", {"fire"}),  # every word, not the phrase
        ("fire printer", {"fire"}),  # in any order
        ("printer smoke", {"fire"}),  # across title and description
        ("printers jammed", {"jam"}),
        ("mail queue", {"fire"}),  # words of mail_queue
        ("CAFÉ leaks", {"cafe"}),
        ("rinter fire", set()),  # not inside a word
        ("printer zebra", set()),  # every word must be there
    ],
)
def test_several_terms_are_each_found_as_a_word(supervisor, tickets, text, expected):
    assert found(supervisor, search=text) == pks(tickets, *expected)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="English stems: PostgreSQL's")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("printer jam", {"jam"}),  # "Printers jammed": the same stems
        ("leaking cafe", set()),  # "café" is not "cafe"
        ("leaking café", {"cafe"}),  # "Leaks water"
        ("the printers", {"fire", "jam"}),  # "the" is ignored
        ("printing fire", set()),  # "print" is not the stem of "printer"
        ("print fir", set()),  # whole words, not their starts
        ("the of", set()),  # only words that are ignored: nothing to find (and no error)
    ],
)
def test_on_postgresql_several_terms_match_the_forms_of_a_word(supervisor, tickets, text, expected):
    assert found(supervisor, search=text) == pks(tickets, *expected)


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the start of a word: SQLite's")
@pytest.mark.parametrize(("text", "expected"), [("print fir", {"fire"}), ("printers jam", {"jam"})])
def test_elsewhere_several_terms_are_each_found_as_the_start_of_a_word(
    supervisor, tickets, text, expected
):
    assert found(supervisor, search=text) == pks(tickets, *expected)


def test_search_combines_with_the_other_filters_and_the_visibility(client_for, cast, tickets):
    outsider = client_for(cast["outsider_agent"])
    Ticket.objects.filter(pk=tickets["jam"].pk).update(priority="urgent")

    assert found(client_for(cast["supervisor"]), search="printer", priority="urgent") == pks(
        tickets, "jam"
    )
    assert found(outsider, search="printer") == set()


def test_work_orders_are_searched_alike(supervisor, cast):
    boiler = WorkOrderFactory(team=cast["team"], title="Boiler service", description="Annual")
    WorkOrderFactory(team=cast["team"], title="Replace filters", description="In the lobby")

    assert found(supervisor, WORK_ORDERS, search="oiler") == {boiler.pk}
    assert found(supervisor, WORK_ORDERS, search="annual boiler") == {boiler.pk}
    assert found(supervisor, WORK_ORDERS, search="annual lobby") == set()


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("rinter", "ticket_search_text_idx"),
        ("ПРИНТЕР", "ticket_search_text_idx"),  # a term that is not ASCII: a regular expression
        ("printer fire", "ticket_search_words_idx"),
    ],
)
def test_on_postgresql_the_search_uses_its_gin_index(tickets, text, index):
    from dispatchdesk.search import search

    assert index in plan(search(Ticket.objects.order_by(), text))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_on_postgresql_the_newest_due_first_order_has_its_index(tickets):
    from django.db.models import F

    ordered = Ticket.objects.order_by(F("due_at").desc(nulls_last=True), "-id")[:50]

    assert "ticket_due_desc_idx" in plan(ordered)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
@pytest.mark.parametrize("index", ["ticket_search_text_idx", "workorder_search_text_idx"])
def test_on_postgresql_the_searched_text_has_five_times_the_statistics(index):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attstattarget FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE c.relname = %s AND a.attnum = 1",
            [index],
        )
        assert cursor.fetchone() == (500,)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
@pytest.mark.parametrize(
    "index",
    [
        "ticket_search_text_idx",
        "ticket_search_words_idx",
        "workorder_search_text_idx",
        "workorder_search_words_idx",
    ],
)
def test_on_postgresql_the_search_indexes_keep_a_short_pending_list(index):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [index])
        assert cursor.fetchone() == (["gin_pending_list_limit=256"],)
