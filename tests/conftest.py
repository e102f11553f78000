"""Shared fixtures: settings for tests, personas, small make_* helpers, Chromium for browser tests."""

import os
import shutil
import uuid
from pathlib import Path

import pytest
from django.db import connection

# Playwright's sync API runs an event loop in this thread; the Django test database calls made
# beside it are synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factories import make_coalition, make_institution, make_person  # noqa: E402


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in-process in tests (one test runs a real worker and turns this off)."""
    from kwaliteitsnetwerk.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "task_eager_propagates")}
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield app
    app.conf.update(saved)


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.LANGUAGE_CODE = "nl"
    settings.BUREAU_REQUIRE_MFA = False  # tested on its own in test_foundation
    # Each test gets its own cache: allauth's rate limits must not leak between tests.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex,
        }
    }


def pytest_collection_modifyitems(config, items):
    on_postgres = connection.vendor == "postgresql"
    if os.environ.get("CI") and not on_postgres:
        raise pytest.UsageError("CI must run the tests on PostgreSQL: set DATABASE_URL.")
    if on_postgres:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


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


@pytest.fixture
def demo_network(transactional_db, settings):
    """The demo network with its three logins, for browser journeys."""
    from django.core.management import call_command

    settings.DEBUG = True  # the demo accounts exist only with DEBUG on
    call_command("seed_demo", verbosity=0)
    settings.DEBUG = False


@pytest.fixture(autouse=True)
def _quick_browser_timeouts(request):
    """Fail a browser step in 10 s, not Playwright's 30 s default; and let the page finish its
    last requests before the test database goes away underneath the live server."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    page.set_default_timeout(10_000)
    yield
    page.wait_for_load_state("networkidle")
    page.goto("about:blank")
