"""Requests sent at the same moment, each from its own thread and database connection: how the
concurrency tests stage a race (on PostgreSQL; SQLite serializes whole-database writes)."""

import threading
import time

from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


def send_all_at_once(requests, delays=None) -> list:
    """Send `(user, method, url, body)` requests from one thread each, released together
    (each after its delay in seconds, if given). Answers the responses in request order."""
    delays = delays or [0] * len(requests)
    tokens = {user.pk: str(RefreshToken.for_user(user).access_token) for user, *_ in requests}
    barrier = threading.Barrier(len(requests))
    responses: list = [None] * len(requests)

    def worker(index, user, method, url, body):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[user.pk]}")
        try:
            barrier.wait(timeout=30)
            time.sleep(delays[index])
            responses[index] = getattr(client, method)(url, body, format="json")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(index, *request))
        for index, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(response is not None for response in responses), "a request did not finish"
    return responses


class Meanwhile:
    """`action` run in a thread of its own (its own database connection) once `start()` is
    called, while the test goes on: someone else's change in the middle of the test's own.
    `outcome` is "done", or the exception it raised, as text."""

    def __init__(self, action):
        self.action, self.outcome = action, None
        self.go = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self) -> None:
        self.go.wait()
        try:
            self.action()
            self.outcome = "done"
        except Exception as exc:
            self.outcome = repr(exc)
        finally:
            connection.close()

    def start(self, then_wait: float = 0.5) -> None:
        """Let the action run, and give it `then_wait` seconds to get as far as it can."""
        self.go.set()
        time.sleep(then_wait)

    def finish(self) -> None:
        self.go.set()
        self.thread.join(timeout=30)


def then_meanwhile(action, meanwhile: Meanwhile):
    """A wrapper of `action` that starts `meanwhile` right after it, when run in the thread that
    made the wrapper (the test's): someone else's change arriving at that point of the test's."""
    main = threading.current_thread()

    def run(*args, **kwargs):
        result = action(*args, **kwargs)
        if threading.current_thread() is main:
            meanwhile.start()
        return result

    return run


def in_this_thread_first(action, main=None):
    """A wrapper of `action` that runs `meanwhile.finish()` first, in the test's own thread."""
    main = main or threading.current_thread()

    def wrap(meanwhile):
        def run(*args, **kwargs):
            if threading.current_thread() is main:
                meanwhile.finish()
            return action(*args, **kwargs)

        return run

    return wrap


def team_deleted_in_the_admin(admin, team, answers: list) -> Meanwhile:
    """`admin` confirming `team`'s deletion on its admin page, meanwhile; the page it ends on
    (redirects followed) goes to `answers`."""
    browser = Client()
    browser.force_login(admin)
    url = f"/admin/accounts/team/{team.pk}/delete/"
    return Meanwhile(lambda: answers.append(browser.post(url, {"post": "yes"}, follow=True)))


def messages_on(page) -> list[str]:
    """The messages an admin page shows."""
    return [str(message) for message in page.context["messages"]]
