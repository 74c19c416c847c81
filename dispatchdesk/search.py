"""The `search` filter of tickets and work orders: title and description.

One term (no spaces) is found as typed, anywhere in the title or description, ignoring case,
with `%` and `_` taken literally: `rinte` finds "printer", `50%` does not find "500", `mail_queue`
finds "mail_queue". Several terms are words, each found in any of its forms, in any order:
`printer fire` finds "Fire near the printers", `leaking printers` finds "printer leaks".

On PostgreSQL each has its GIN index on `title || ' ' || description`, created by the migrations
of tickets and work orders: trigrams (`pg_trgm`) for the one term, full-text search in English
(`to_tsvector('english', ...) @@ plainto_tsquery('english', ...)`: words reduced to their stems,
words such as "the" ignored) for several. Other databases (SQLite in development) use plain
`icontains`, and for several terms a regular expression for the start of each word, without
stems or ignored words: there `print fir` finds "printer on fire" and `leaking` misses "leaks".

How PostgreSQL ignores the case of one term (`TermFound`): the text is compared in the "C"
collation, where changing the case of a character is a byte's lookup, because folding it in the
database's own locale costs three times as much, and a frequent word's page checks thousands of
tickets (docs/benchmarks.md). A term of ASCII characters is matched with `ILIKE`, which there
folds the ASCII letters; a term with other characters, with a regular expression that offers
each of its letters in both cases (`café` as `[Cc][Aa][Ff][Éé]`). Either way the trigram index
finds the candidates, its trigrams folded by `pg_trgm` in the database's locale.

What this finds is the search's meaning everywhere. The ticket list reads the same tickets for a
one-term search of letters and digits faster, newest first, from an index of the tickets' words
(tickets.word_search).
"""

import re

from django.db import connections
from django.db.models import BooleanField, Func, Q, TextField, Value
from django.db.models.functions import Collate

# The words after the eighth are left out of the match (it bounds the cost of a query).
MAX_WORDS = 8
WORD = re.compile(r"[^\W_]+")  # letters and digits: what PostgreSQL's parser keeps as a word


class SearchText(Func):
    """`title || ' ' || description`: the text that the search indexes cover."""

    template = "(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = TextField()

    def __init__(self):
        super().__init__("title", "description")


class WordsMatch(Func):
    """`to_tsvector('english', text) @@ plainto_tsquery('english', 'w1 w2')` (PostgreSQL).

    Whole words rather than prefixes (`w1:*`): a prefix makes GIN collect every word that starts
    with it before intersecting them, 20 ms for two common words at a million tickets against
    2 ms (docs/benchmarks.md); the English stems find the other forms of a word instead."""

    output_field = BooleanField()

    def __init__(self, text, words: list[str]):
        super().__init__(text, Value(" ".join(words)))

    def as_sql(self, compiler, connection, **extra):
        text, query = self.get_source_expressions()
        text_sql, text_params = compiler.compile(text)
        query_sql, query_params = compiler.compile(query)
        sql = (
            f"to_tsvector('english'::regconfig, {text_sql}) "
            f"@@ plainto_tsquery('english'::regconfig, {query_sql})"
        )
        return sql, [*text_params, *query_params]


class TermFound(Func):
    """One term anywhere in `text`, ignoring case, on PostgreSQL (see the module's docstring)."""

    output_field = BooleanField()

    def __init__(self, text, term: str):
        super().__init__(Collate(text, "C"))
        self.term = term

    def as_sql(self, compiler, connection, **extra):
        text_sql, params = compiler.compile(self.get_source_expressions()[0])
        if self.term.isascii():
            anywhere = f"%{connection.ops.prep_for_like_query(self.term)}%"
            return f"{text_sql} ILIKE %s", [*params, anywhere]
        return f"{text_sql} ~ %s", [*params, either_case(self.term)]


def either_case(term: str) -> str:
    """A regular expression (PostgreSQL's) that matches `term` with its letters in any case."""
    pattern = []
    for character in term:
        lower, upper = character.lower(), character.upper()
        # Both cases, and theirs: `ς` is also `σ` (the case of `Σ`).
        cases = {c for c in (character, lower, upper, lower.upper(), upper.lower()) if len(c) == 1}
        if len(cases) > 1:
            pattern.append("[" + "".join(sorted(cases)) + "]")  # letters: nothing to escape
        elif character.isalnum():
            pattern.append(character)  # a backslash before a letter or digit means an escape
        else:
            pattern.append("\\" + character)  # any other character, literally
    return "".join(pattern)


def words_of(text: str) -> list[str]:
    return [word.lower() for word in WORD.findall(text)][:MAX_WORDS]


def search(queryset, text: str):
    """Rows of `queryset` (tickets or work orders) that match the search `text`."""
    text = text.strip()
    if not text:
        return queryset
    words = words_of(text)
    if len(text.split()) == 1 or not words:
        if connections[queryset.db].vendor == "postgresql":
            return queryset.filter(TermFound(SearchText(), text))
        return queryset.filter(Q(title__icontains=text) | Q(description__icontains=text))
    if connections[queryset.db].vendor == "postgresql":
        return queryset.filter(WordsMatch(SearchText(), words))
    for word in words:
        starts_a_word = rf"(?<![^\W_]){re.escape(word)}"  # not after a letter or digit
        queryset = queryset.filter(
            Q(title__iregex=starts_a_word) | Q(description__iregex=starts_a_word)
        )
    return queryset
