"""The ticket list's one-term search read from the index of words (tickets.word_search), on
PostgreSQL: it must find what the list's own query finds, in the same order, for everyone who
may use it, and follow every change to the tickets' texts and teams."""

import random
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Team
from accounts.tests.factories import AgentFactory, TeamFactory
from dispatchdesk.pagination import CappedCountPaginator
from dispatchdesk.tests.concurrency import Meanwhile
from tickets import word_search
from tickets.models import Ticket, TicketWord
from tickets.services import ticket_delete
from tickets.word_search import MAX_WORDS

from .factories import TicketFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the index of words exists on PostgreSQL only"
    ),
]

TICKETS = "/api/v1/tickets/"
VOCABULARY = ["printer", "Printers", "jammed", "E4521", "e4521x", "LEAK", "leaking", "shredder"]
SEPARATORS = [" ", ", ", "-", "_", ". ", "/", "\n"]


def read(client, **params) -> tuple[list[int], int, bool]:
    """The ids of a page in order, the count, and whether the word search served it (the
    term looked up in the vocabulary: a term in no word reads nothing more)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(TICKETS, params)
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    served = any("tickets_ticketword" in query["sql"] for query in queries) or (
        looked_up(queries) and not body["results"]
    )
    return [row["id"] for row in body["results"]], body["count"], served


def looked_up(queries) -> bool:
    return any("tickets_searchvocabulary" in query["sql"] for query in queries)


def by_the_list(client, **params) -> tuple[list[int], int]:
    """The same page by the list's own query: an explicit ordering (the same as the default)
    leaves the word index out."""
    ids, count, used = read(client, ordering="-created_at", **params)
    assert not used
    return ids, count


def text(rng) -> str:
    words = rng.choices(
        VOCABULARY + ["the", "floor", "café", "İstanbul", "NAÏVE"], k=rng.randint(1, 6)
    )
    return "".join(word + rng.choice(SEPARATORS) for word in words).strip()


@pytest.fixture
def people(cast):
    """An agent of two teams, with a closed ticket still assigned to them in a team they left and
    one they filed in a team not theirs; a supervisor; tickets of three teams with texts of a
    small vocabulary, several at the same moment."""
    rng = random.Random(7)
    third = TeamFactory(name="Third")
    agent = AgentFactory(teams=[cast["team"], third])
    now = timezone.now()
    for n in range(90):
        TicketFactory(
            team=rng.choice([cast["team"], cast["other_team"], third]),
            title=text(rng)[:200],
            description=text(rng),
            created_at=now - timedelta(minutes=n // 3),  # three at each time: the ids decide
        )
    TicketFactory(
        team=cast["other_team"], assignee=agent, status="closed", title="Old printer jammed"
    )
    TicketFactory(team=cast["other_team"], requester=agent, title="My shredder", description="")
    return {"agent": agent, "supervisor": cast["supervisor"], "outsider": cast["outsider_agent"]}


@pytest.mark.parametrize("who", ["agent", "supervisor", "outsider"])
@pytest.mark.parametrize(
    "term",
    # As typed, in any case, inside a word; beside letters beyond ASCII, which are not
    # folded (`istanbul` is not in "İstanbul") and part of no word (`naive` is not in "NAÏVE").
    [
        "printer",
        "PRINT",
        "rinte",
        "e4521",
        "E4521X",
        "leak",
        "shred",
        "caf",
        "stanbul",
        "istanbul",
        "naive",
        "floor",
    ],
)
def test_it_finds_what_the_list_finds_in_the_same_order(client_for, people, who, term):
    client = client_for(people[who])

    ids, count, used = read(client, search=term, page_size=200)

    assert used
    assert (ids, count) == by_the_list(client, search=term, page_size=200)
    assert bool(ids) == (term not in ("istanbul", "naive"))


def test_an_agent_finds_their_own_tickets_outside_their_teams(client_for, people):
    client = client_for(people["agent"])

    assert Ticket.objects.get(title="Old printer jammed").pk in read(client, search="jammed")[0]
    assert Ticket.objects.get(title="My shredder").pk in read(client, search="shredder")[0]
    assert read(client_for(people["outsider"]), search="mY shRed")[0] == []  # not one term


@pytest.mark.parametrize("estimate", ["counted up to the limit", "trusted at once"])
def test_pages_beyond_the_exact_count_are_the_lists_pages(
    client_for, people, monkeypatch, estimate
):
    monkeypatch.setattr(CappedCountPaginator, "exact_count_limit", 5)
    if estimate == "trusted at once":  # as for a frequent word: no ids found for the count
        monkeypatch.setattr(CappedCountPaginator, "trust_estimate_above", 0)
    client = client_for(people["supervisor"])
    everything, _ = by_the_list(client, search="printer", page_size=200)
    assert len(everything) > 12

    pages, page = [], 1
    while True:
        ids, count, used = read(client, search="printer", page_size=4, page=page)
        assert used and count > 5  # an estimate beyond the exact count
        pages += ids
        response = client.get(TICKETS, {"search": "printer", "page_size": 4, "page": page})
        if response.json()["next"] is None:
            break
        page += 1
    assert pages == everything
    assert (
        client.get(TICKETS, {"search": "printer", "page_size": 4, "page": page + 1}).status_code
        == 404
    )


def test_a_term_in_many_words_of_the_same_tickets_is_counted_exactly(client_for, cast, monkeypatch):
    """The estimate counted a ticket once for each of its words holding the term: 60 tickets of
    15 such words each were 900 entries, taken as the count above the estimate trusted (500
    here, as 3,000 is for sixty words a ticket), and `page=last` was a 404."""
    monkeypatch.setattr(CappedCountPaginator, "trust_estimate_above", 500)
    for _ in range(60):
        words = " ".join(f"err{n}" for n in range(15))
        TicketFactory(team=cast["team"], title="Errors", description=words)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticketword")
    client = client_for(cast["supervisor"])

    ids, count, used = read(client, search="err", page_size=50)

    assert used and count == 60 == by_the_list(client, search="err", page_size=50)[1]
    last = client.get(TICKETS, {"search": "err", "page_size": 50, "page": "last"})
    assert last.status_code == 200 and len(last.json()["results"]) == 10


def test_a_term_in_no_word_finds_nothing(client_for, people):
    ids, count, used = read(client_for(people["supervisor"]), search="zzzq")

    assert used and (ids, count) == ([], 0)


def test_a_word_too_long_for_the_index_is_written_and_found(client_for, cast):
    """A run of letters and digits longer than an index entry may be (a pasted key) made the
    ticket's write fail (503) and the migration stop: such a ticket is now checked for the
    term instead."""
    key = random.Random(1).randbytes(2000).hex()  # 4,000 characters, hard to compress
    client = client_for(cast["supervisor"])
    response = client.post(
        TICKETS,
        {
            "title": "Key",
            "description": f"Paste: {key}.",
            "team": cast["team"].pk,
            "requester": cast["requester"].pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content[:300]
    TicketFactory(team=cast["team"], title="Other", description="0000000a elsewhere")

    for term in ("0000000a", key[1000:1040]):
        ids, count, used = read(client, search=term)
        assert used
        assert (ids, count) == by_the_list(client, search=term)
    assert read(client, search=key[1000:1040])[0] == [response.json()["id"]]


@pytest.mark.django_db(transaction=True)
def test_a_new_word_does_not_wait_for_another_transaction_bringing_it(client_for, cast):
    """The vocabulary had a unique key: a ticket bringing a word that an import (one
    transaction) had brought waited until the import committed, or deadlocked with it."""
    importing = Meanwhile(lambda: hold_a_ticket_with("Quokkaq jammed", cast))
    importing.start()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # a wait would end in a 503
        response = client_for(cast["supervisor"]).post(
            TICKETS,
            {"title": "Quokkaq stuck", "team": cast["team"].pk, "requester": cast["requester"].pk},
            format="json",
        )
    finally:
        importing.finish()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert response.status_code == 201, response.content[:300]
    assert read(client_for(cast["supervisor"]), search="quokkaq")[1] == 2


def hold_a_ticket_with(title, cast) -> None:
    """A ticket written in a transaction that stays open a while (an import's)."""
    with transaction.atomic():
        TicketFactory(team=cast["team"], requester=cast["requester"], title=title)
        time.sleep(3)


def test_a_truncate_of_the_tickets_empties_their_words(cast):
    TicketFactory(team=cast["team"], title="Boiler noise")
    assert TicketWord.objects.exists()

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the ticket's checks done, as committed
        cursor.execute("TRUNCATE tickets_ticket CASCADE")

    assert not TicketWord.objects.exists()


@pytest.mark.parametrize("term", ["pr", "printer_jam", "café", "mail-queue"])
def test_other_terms_keep_the_lists_own_query(client_for, people, term):
    ids, count, used = read(client_for(people["supervisor"]), search=term, page_size=200)

    assert not used
    assert (ids, count) == by_the_list(client_for(people["supervisor"]), search=term, page_size=200)


def test_a_term_in_too_many_words_keeps_the_lists_own_query(client_for, cast):
    for n in range(MAX_WORDS + 1):
        TicketFactory(team=cast["team"], title=f"Valve{n}", description="")
    client = client_for(cast["supervisor"])

    ids, count, used = read(client, search="valve", page_size=200)

    assert not used
    assert count == MAX_WORDS + 1


def test_more_ranges_than_allowed_keep_the_lists_own_query(client_for, people, monkeypatch):
    """A supervisor reads a range of each team for each word (`printer`, `printers`, and the
    empty word)."""
    client = client_for(people["supervisor"])
    ranges = 3 * Team.objects.count()  # and the empty word: words too long for the index
    monkeypatch.setattr(word_search, "MAX_RANGES", ranges - 1)
    assert not read(client, search="printer")[2]

    monkeypatch.setattr(word_search, "MAX_RANGES", ranges)
    assert read(client, search="printer")[2]


def test_other_filters_keep_the_lists_own_query(client_for, people):
    client = client_for(people["supervisor"])

    assert not read(client, search="printer", status="new")[2]
    assert not read(client, search="printer", ordering="-priority")[2]


def words_of(ticket) -> set[tuple]:
    return set(
        TicketWord.objects.filter(ticket_id=ticket.pk).values_list("word", "team_id", "created_at")
    )


@pytest.mark.django_db(transaction=True)
def test_the_words_follow_every_write_of_a_ticket(client_for, cast):
    """Written by triggers in the ticket's own statement: created, edited, moved, deleted."""
    supervisor = client_for(cast["supervisor"])
    outsider = client_for(cast["outsider_agent"])
    response = supervisor.post(
        TICKETS,
        {
            "title": "Forklift stuck",
            "description": "Bay-4",
            "team": cast["team"].pk,
            "requester": cast["requester"].pk,
        },
        format="json",
    )
    ticket = Ticket.objects.get(pk=response.json()["id"])
    team, created = cast["team"].pk, ticket.created_at
    assert words_of(ticket) == {(w, team, created) for w in ("forklift", "stuck", "bay", "4")}
    assert read(supervisor, search="orklif")[0] == [ticket.pk]

    supervisor.patch(f"{TICKETS}{ticket.pk}/", {"title": "Pallet jack"}, format="json")
    assert {word for word, *_ in words_of(ticket)} == {"pallet", "jack", "bay", "4"}
    assert read(supervisor, search="forklift")[0] == []
    assert read(outsider, search="pallet")[0] == []

    supervisor.patch(f"{TICKETS}{ticket.pk}/", {"team": cast["other_team"].pk}, format="json")
    assert {team for _, team, _ in words_of(ticket)} == {cast["other_team"].pk}
    assert read(outsider, search="pallet")[0] == [ticket.pk]

    ticket.refresh_from_db()
    ticket.cancel(note="Filed twice")
    ticket.save()
    ticket_delete(ticket)
    assert words_of(ticket) == set()


def test_its_queries_do_not_grow_with_the_page(client_for, people):
    client = client_for(people["agent"])
    counts = []
    for size in (2, 30):
        client.get(TICKETS, {"search": "printer", "page_size": size})
        with CaptureQueriesContext(connection) as queries:
            ids, _, used = read(client, search="printer", page_size=size)
        assert used and len(ids) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
