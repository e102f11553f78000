"""The suite's clock: every test starts at one fixed instant, the same on every day it runs.

`KN_TEST_NOW` (ISO 8601 with an offset, e.g. ``2028-02-29T10:00:00+01:00``) moves the whole suite
to another moment; without it the suite runs at DEFAULT_NOW. tests/conftest.py pins the clock for
the session and again for each test (time-machine, ticking, so waits and timeouts still pass).

A child process is not travelled with us: `travelled(argv)` gives the command line that starts
it at our present moment (``python -m tests.clock <iso> <argv...>``), so a real Celery worker
lives at the same date as the test that started it. Chromium's clock is not patched: browser
journeys must not compare the page's own JavaScript time with the server's.
"""

import datetime as dt
import os
import runpy
import sys

DEFAULT_NOW = "2026-11-16T10:00:00+01:00"


def pinned_now() -> dt.datetime:
    value = os.environ.get("KN_TEST_NOW") or DEFAULT_NOW
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"KN_TEST_NOW needs an offset (e.g. +01:00): {value!r}")
    return moment


def travelled(argv: list[str]) -> list[str]:
    """The command line that runs `argv` (Python arguments: ``-m module ...`` or a script) in a
    child whose clock starts where ours is now."""
    from django.utils import timezone

    return [sys.executable, "-m", "tests.clock", timezone.now().isoformat(), *argv]


def _main(moment: str, *argv: str) -> None:
    import time_machine

    time_machine.travel(dt.datetime.fromisoformat(moment), tick=True).start()
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    _main(*sys.argv[1:])
