"""Shared fixtures: settings for tests, personas, small make_* helpers, Chromium for browser tests."""

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import time_machine
from django.db import connection

# Playwright's sync API runs an event loop in this thread; the Django test database calls made
# beside it are synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.clock import pinned_now  # noqa: E402
from tests.factories import make_coalition, make_institution, make_person  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _pinned_clock_for_the_session():
    """The session's own fixtures (the test database, the demo network, the live server) live at
    the suite's instant too (tests/clock.py; KN_TEST_NOW moves it)."""
    with time_machine.travel(pinned_now(), tick=True):
        yield


@pytest.fixture(autouse=True)
def _pinned_clock(_pinned_clock_for_the_session):
    """Every test starts at the same instant, whatever day it runs; the clock ticks on from there
    (a test that needs it still moves it with time_machine.travel)."""
    with time_machine.travel(pinned_now(), tick=True):
        yield


@contextmanager
def celery_eager():
    """Tasks run in-process (no broker): for every test, and for seeding the demo network."""
    from kwaliteitsnetwerk.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "task_eager_propagates")}
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    try:
        yield app
    finally:
        app.conf.update(saved)


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in-process in tests (one test runs a real worker and turns this off)."""
    with celery_eager() as app:
        yield app


def settings_for_tests() -> dict:
    """The settings every test runs with; the shared demo network is seeded with them too."""
    from django.conf import settings

    return {
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
        "CELERY_TASK_ALWAYS_EAGER": True,
        "STORAGES": {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        "LANGUAGE_CODE": "nl",
        "BUREAU_REQUIRE_MFA": False,  # tested on its own in test_foundation
        # No institution's login unless a test starts its own provider (tests/oidc.py).
        "SOCIALACCOUNT_PROVIDERS": {},
        # Each test gets its own cache: allauth's rate limits must not leak between tests.
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": uuid.uuid4().hex,
            },
            # The cached fragments (kwaliteitsnetwerk.caching) are on in tests, as in production.
            "fragments": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": uuid.uuid4().hex,
            },
        },
    }


@pytest.fixture(autouse=True)
def _test_settings(settings):
    for name, value in settings_for_tests().items():
        setattr(settings, name, value)


def uses_demo_network(item) -> bool:
    return "demo_network" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    on_postgres = connection.vendor == "postgresql"
    if os.environ.get("CI") and not on_postgres:
        raise pytest.UsageError("CI must run the tests on PostgreSQL: set DATABASE_URL.")
    if not on_postgres:
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)
    # The browser journeys run last, one after the other, on the demo network seeded once for
    # them (see DemoNetwork). A stable sort: every other test keeps its order.
    items.sort(key=lambda item: "browser" in item.keywords or uses_demo_network(item))


@pytest.fixture
def redis_url() -> str:
    """The Redis of REDIS_URL, for the tests that need a real broker: outside CI they skip with
    a reason when it is not set; in CI (which always sets it) its absence is a failure."""
    url = os.environ.get("REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL must point at Redis in CI (.ci/run sets it).")
        pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    return url


# Personas -------------------------------------------------------------------------------------


@pytest.fixture
def institution(db):
    return make_institution("Deltion College", domain="deltion.example", city="Zwolle")


@pytest.fixture
def other_institution(db):
    return make_institution("Albeda", domain="albeda.example", city="Rotterdam")


@pytest.fixture
def bureau_institution(db):
    return make_institution(
        "Bureau Kwaliteitsnetwerk mbo", domain="kwaliteitsnetwerk.example", kind="bureau"
    )


@pytest.fixture
def bureau(bureau_institution):
    """Alice works at the network office."""
    return make_person("Alice", "Bakker", bureau_institution, account=True, is_bureau_staff=True)


@pytest.fixture
def lead(institution):
    """Bob leads a coalition."""
    person = make_person("Bob", "Jansen", institution, account=True)
    make_coalition("Peer review in teams", leads=[person])
    return person


@pytest.fixture
def member(institution):
    """Charlie is a member at a member institution."""
    return make_person("Charlie", "Visser", institution, account=True)


@pytest.fixture
def outsider(other_institution):
    """Dana works at another institution and has nothing to do with the others' coalitions."""
    return make_person("Dana", "Dekker", other_institution, account=True)


def login(client, person):
    client.force_login(person.user)
    return client


# Browser ---------------------------------------------------------------------------------------


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "Chromium is missing: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH. "
            "'playwright install' cannot download browsers here."
        )
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "nl-NL", "timezone_id": "Europe/Amsterdam"}


class DemoNetwork:
    """The demo network in the test database, committed and shared by the browser journeys.

    Seeding takes seconds, so it happens once per session rather than once per journey. The
    journeys therefore see each other's changes: each one must hold in any order after the others.
    Every other test stays hermetic: the network is flushed away before any test that does not
    ask for it (see pytest_runtest_setup; with the journeys sorted last that happens at most at
    the end) and at the end of the session, so nothing reaches a later --reuse-db run either.
    """

    def __init__(self, django_db_blocker):
        self.django_db_blocker = django_db_blocker
        self.seeded = False

    def seed(self):
        if self.seeded:
            return
        from django.core.management import call_command
        from django.test.utils import override_settings

        with self.django_db_blocker.unblock():
            self._flush()  # whatever an earlier, interrupted run may have left
            # The demo accounts exist only with DEBUG on; the tests' own settings (password
            # hasher, caches) and in-process tasks, as when the journeys seeded it themselves.
            with override_settings(**settings_for_tests(), DEBUG=True), celery_eager():
                call_command("seed_demo", verbosity=0)
        self.seeded = True

    def clear(self):
        if not self.seeded:
            return
        with self.django_db_blocker.unblock():
            self._flush()
        self.seeded = False

    @staticmethod
    def _flush():
        from django.core.management import call_command

        # As TransactionTestCase does after each test: empty tables, then post_migrate's rows.
        call_command("flush", interactive=False, verbosity=0)


_demo_network_key = pytest.StashKey[DemoNetwork]()


@pytest.fixture(scope="session")
def _shared_demo_network(request, django_db_setup, django_db_blocker):
    network = DemoNetwork(django_db_blocker)
    request.config.stash[_demo_network_key] = network
    yield network
    network.clear()
    del request.config.stash[_demo_network_key]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before the fixtures of a test without the demo network (so before its transaction)."""
    network = item.config.stash.get(_demo_network_key, None)
    if network is not None and not uses_demo_network(item):
        network.clear()


@pytest.fixture
def demo_network(request, _shared_demo_network, django_db_blocker):
    """The demo network with its three logins, for browser journeys: seeded once per session and
    shared, with database access for the test and the live server, and no flush afterwards."""
    clashing = {"db", "transactional_db", "django_db_reset_sequences"} & set(request.fixturenames)
    if clashing or request.node.get_closest_marker("django_db"):
        raise pytest.UsageError(
            "demo_network is committed and shared: do not combine it with db, transactional_db "
            "or the django_db marker (their teardown would flush it, or hide it in a transaction)."
        )
    _shared_demo_network.seed()
    with django_db_blocker.unblock():
        yield


def pytest_configure(config):
    from pytest_django import fixtures

    if not hasattr(fixtures, "_live_server_helper"):
        raise pytest.UsageError(
            "pytest-django no longer has _live_server_helper: update the override in tests/conftest.py."
        )


@pytest.fixture(autouse=True)
def _live_server_helper(request):
    """Overrides pytest-django's autouse fixture of this name (pytest_django/fixtures.py), which
    gives every test with live_server the transactional_db fixture. Its teardown would flush the
    shared demo network after each journey, so a journey on the demo network gets its database
    access from demo_network instead; any other live_server test is served as pytest-django does."""
    if "live_server" not in request.fixturenames:
        yield
        return
    request.getfixturevalue(
        "demo_network" if uses_demo_network(request.node) else "transactional_db"
    )
    live_server = request.getfixturevalue("live_server")
    live_server._live_server_modified_settings.enable()
    yield
    live_server._live_server_modified_settings.disable()


@pytest.fixture(autouse=True)
def _quick_browser_timeouts(request):
    """Fail a browser step in 10 s, not Playwright's 30 s default; and let the page finish its
    last requests before the next journey (or the flush at the end) changes the database
    underneath the live server."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    page.set_default_timeout(10_000)
    yield
    page.wait_for_load_state("networkidle")
    page.goto("about:blank")
