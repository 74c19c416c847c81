"""A one-term search of the ticket list, read newest first from the index of words (PostgreSQL).

What a search finds is decided by dispatchdesk.search alone; this reads the same tickets faster
when it can. On the trigram index, a frequent word's page had to walk the newest tickets and
skip those the agent may not see (four in five at a million, 13 to 17 ms for `shredder`), or
read all of the word's tickets before sorting them. The words of every ticket are kept with its
team and time (`TicketWord`, written by triggers: migration 0007), so a word's tickets in one team
are one range of an index, newest first: a page reads its 51 entries of each (word, team) pair
(supervisors and admins, who see every team, each team's: at most `MAX_RANGES` ranges are read).

One term of letters and digits (ASCII) is found in a text exactly where it is part of one of the
text's words (its runs of letters and digits): the words that hold it are looked up in the
vocabulary (a trigram index), at most `MAX_WORDS` of them. A word longer than an index entry may
be is kept as the empty word: those tickets (rare: a pasted key) are read with every search and
checked for the term. As for the list's own query (dispatchdesk.pagination), the estimate
comes first: above 3,000 it is the count, else the ids of at most 1,001 tickets give an exact
one; a page beyond them reads the ids up to its end. Agents also see their own tickets
(assigned to them or requested by them) outside their teams: read from the tickets themselves,
by team ranges of `(assignee, team)` and `(requester, team)` around the agent's teams, and
checked for the term as the list checks it.

Anything else keeps the list's own query: other filters or orderings, several words, other
characters, a term shorter than three characters (no trigram), a requester (their own tickets
are few), other databases.
"""

import re
from itertools import pairwise

from django.db import connections

from accounts.models import Team
from dispatchdesk.pagination import PAGING_PARAMETERS, planner_estimate

from .models import SearchVocabulary, Ticket, TicketWord

# Query parameters that leave the list as it is without a search.
LIST_PARAMETERS = PAGING_PARAMETERS | {"search", "format"}
TERM = re.compile(r"[A-Za-z0-9]{3,}")
# Beyond this many words holding the term (`in`, `ing`), or ranges of (word, team) to read
# (supervisors of an installation with hundreds of teams), the trigram index serves it better.
MAX_WORDS = 16
MAX_RANGES = 256
# A ticket's text holds the term, compared as dispatchdesk.search compares one ASCII term.
HOLDS_TERM = "({row}.title || ' ' || {row}.description) COLLATE \"C\" ILIKE %s"


class WordSearch:
    """The tickets `user` sees that hold `term`, in the list's order (`-created_at`, `-id`)."""

    def __init__(self, user, words: list[str], term: str, using: str):
        self.user = user
        self.words = words
        self.term = term
        self.using = using
        # The teams whose tickets the user sees whole: all of them for supervisors and admins.
        team_ids = user.loaded_team_ids
        if user.is_staff:
            team_ids = Team.objects.using(using).values_list("pk", flat=True)
        elif team_ids is None:
            team_ids = user.teams.using(using).values_list("pk", flat=True)
        self.team_ids = sorted(team_ids)

    @classmethod
    def for_list(cls, request, using: str) -> "WordSearch | None":
        """The word search that serves this request to the ticket list, if one can."""
        params = request.query_params
        term = params.get("search", "").strip()
        user = request.user
        if (
            connections[using].vendor != "postgresql"
            or not LIST_PARAMETERS.issuperset(params)
            or len(params.getlist("search")) != 1
            or not TERM.fullmatch(term)
            or not (user.is_staff or user.is_worker)
        ):
            return None
        term = term.lower()
        words = list(
            SearchVocabulary.objects.using(using)
            .filter(word__contains=term)
            .values_list("word", flat=True)
            .distinct()[: MAX_WORDS + 1]
        )
        if len(words) > MAX_WORDS:
            return None
        # The empty word stands for words too long for the index: their tickets are checked.
        found = cls(user, [*words, ""], term, using)
        return None if len(found.words) * len(found.team_ids) > MAX_RANGES else found

    def first(self, limit: int) -> list[int]:
        """The ids of the first `limit` tickets found, in order."""
        word, table = TicketWord._meta.db_table, Ticket._meta.db_table
        in_teams = (
            "SELECT DISTINCT found.created_at, found.ticket_id AS id"
            " FROM unnest(%s::text[]) AS term_word(word), unnest(%s::bigint[]) AS team(id),"
            " LATERAL (SELECT w.created_at, w.ticket_id FROM"
            f" {word} AS w WHERE w.word = term_word.word AND w.team_id = team.id"
            f" AND (w.word <> '' OR EXISTS (SELECT FROM {table} AS t WHERE t.id = w.ticket_id"
            f" AND {HOLDS_TERM.format(row='t')}))"
            " ORDER BY w.created_at DESC, w.ticket_id DESC LIMIT %s) AS found"
        )
        params = [self.words, self.team_ids, self.pattern, limit]
        if not self.user.is_staff:
            outside, outside_params = self._own_outside_teams()
            in_teams += f" UNION {outside}"
            params += outside_params
        sql = (
            f"SELECT array_agg(id ORDER BY created_at DESC, id DESC) FROM ({in_teams}"
            " ORDER BY created_at DESC, id DESC LIMIT %s) AS page"
        )
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, [*params, limit])
            return cursor.fetchone()[0] or []

    def _own_outside_teams(self) -> tuple[str, list]:
        """SQL of `(created_at, id)` of the agent's own tickets outside their teams that hold
        the term: each of assignee and requester, one index range a gap between their teams
        (`team_id <> ALL(...)` would be read for every ticket of theirs)."""
        bounds = [None, *self.team_ids, None]
        ranges, params = [], []
        for person in ("assignee_id", "requester_id"):
            for low, high in pairwise(bounds):
                condition = [f"{person} = %s"]
                params.append(self.user.pk)
                if low is not None:
                    condition.append("team_id > %s")
                    params.append(low)
                if high is not None:
                    condition.append("team_id < %s")
                    params.append(high)
                ranges.append(f"({' AND '.join(condition)})")
        table = Ticket._meta.db_table
        # OFFSET 0 keeps the ranges the first thing read: the term is checked on their rows.
        sql = (
            "SELECT own.created_at, own.id FROM (SELECT id, created_at, title, description"
            f" FROM {table} WHERE {' OR '.join(ranges)} OFFSET 0) AS own"
            f" WHERE {HOLDS_TERM.format(row='own')}"
        )
        return sql, [*params, self.pattern]

    def estimate(self) -> int:
        """How many tickets PostgreSQL expects to find (nothing is run): the entries of the words
        in the teams, divided by the number of words. A ticket holding several of the words has
        an entry for each, so the entries alone err high (by up to the number of words: a count
        of thousands for sixty tickets, where an exact one was due); their mean is at most the
        entries of the most frequent word, so at most the tickets found: it errs low, as a count
        that decides whether to count exactly must."""
        sql = (
            f"SELECT 1 FROM {TicketWord._meta.db_table}"
            " WHERE word = ANY(%s::text[]) AND team_id = ANY(%s::bigint[])"
        )
        words = [word for word in self.words if word]
        entries = planner_estimate(sql, [words, self.team_ids], self.using)
        return entries // max(len(words), 1)

    @property
    def pattern(self) -> str:
        return f"%{self.term}%"  # letters and digits: nothing to escape
