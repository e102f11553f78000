"""Run one action per item in parallel threads, all released at once, each with its own
database connection (as separate web requests would have)."""

import threading

from django.db import connection


def race(items, action) -> list[Exception]:
    """Returns the exceptions raised (the caller asserts on them)."""
    barrier = threading.Barrier(len(items))
    errors: list[Exception] = []

    def run(item):
        try:
            barrier.wait()
            action(item)
        except Exception as exc:  # noqa: BLE001 - collected for the test to assert on
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
