"""Settings for Kwaliteitsnetwerk, read from environment variables (see .env.example).

Development defaults are safe to run locally: SQLite, console e-mail, tasks in-process.
With DEBUG=0 the production values are required and checked here, loudly.
"""

import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """A Django DATABASES entry from postgres://user:pass@host:port/name or sqlite:///path."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)[1:] if parts.path.startswith("//") else unquote(parts.path)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path or BASE_DIR / "db.sqlite3"}
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # Persistent connections, checked before reuse: cheap requests without a pooler.
            "CONN_MAX_AGE": int(env("DB_CONN_MAX_AGE", "60")),
            "CONN_HEALTH_CHECKS": True,
            "TEST": {"NAME": env("TEST_DATABASE_NAME") or None},
        }
    raise ImproperlyConfigured(f"DATABASE_URL has an unknown scheme: {parts.scheme!r}")


DEBUG = env_bool("DEBUG", True)
DEV_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG=0 the app needs a long random SECRET_KEY "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = DEV_SECRET_KEY
elif not DEBUG and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY is too short or the development key: use 50+ random characters."
    )
# Values from examples and templates: long enough, but known to everyone who read them.
PLACEHOLDER_SECRETS = ("change-me", "changeme", "change_me", "replace-me", "insecure", "example")
if not DEBUG and any(word in SECRET_KEY.lower() for word in PLACEHOLDER_SECRETS):
    raise ImproperlyConfigured(
        "SECRET_KEY is a placeholder value. Make a random one: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set. With DEBUG=0 name the host(s) that serve the app."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "kwaliteitsnetwerk",
    "members",
    "coalitions",
    "events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kwaliteitsnetwerk.middleware.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kwaliteitsnetwerk.middleware.AdminSecondFactorMiddleware",
    "kwaliteitsnetwerk.middleware.RefuseNulMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
]

ROOT_URLCONF = "kwaliteitsnetwerk.urls"
WSGI_APPLICATION = "kwaliteitsnetwerk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kwaliteitsnetwerk.context_processors.navigation",
            ],
        },
    },
]

# Form templates may be overridden in templates/django/forms/ (no colon after labels).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

DATABASES = {
    "default": database_from_url(env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: e-mail login, mandatory verification, sign-up only for member domains/invitations.
ACCOUNT_ADAPTER = "members.adapter.AccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "members.forms.SignupExtraForm"
ACCOUNT_FORMS = {"reset_password": "members.account_forms.ResetPasswordForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Kwaliteitsnetwerk] "
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}
# Login rate limits count per client address. Behind the TLS proxy production assumes, the
# address comes from X-Forwarded-For as set by the proxies we run (one by default): otherwise
# the whole site would share the proxy's address and eleven failed logins lock everyone out.
ALLAUTH_TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0" if DEBUG else "1"))

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Kwaliteitsnetwerk mbo"
# Bureau staff see everything: in production their pages ask for a second factor first.
BUREAU_REQUIRE_MFA = env_bool("BUREAU_REQUIRE_MFA", not DEBUG)
# No write on every request: the list of active logins shows when each began.
USERSESSIONS_TRACK_ACTIVITY = False

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Redis serves as Celery broker and shared cache (rate limits must hold across processes).
REDIS_URL = env("REDIS_URL")
# A Redis that hangs (paused, a full network buffer) costs each client at most this long, then
# the caller degrades: the cache serves from the process's memory for a while
# (kwaliteitsnetwerk.redis_cache), a nudge to the broker is skipped (the sweep sends the outbox).
REDIS_TIMEOUT = float(env("REDIS_TIMEOUT", "0.25"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "kwaliteitsnetwerk.redis_cache.FallbackRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def code_release() -> str:
    """What tells this code apart from an earlier deploy's, which may have kept fragments of
    another shape in the same cache: the sizes and times of the application's Python files,
    templates and translations."""
    digest = hashlib.sha256()
    for folder in ("kwaliteitsnetwerk", "members", "coalitions", "events", "templates", "locale"):
        for path in sorted((BASE_DIR / folder).rglob("*")):
            if path.suffix in (".py", ".html", ".mo"):
                stat = path.stat()
                digest.update(
                    f"{path.relative_to(BASE_DIR)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
                )
    return digest.hexdigest()[:12]


# Cached fragments (kwaliteitsnetwerk.caching): keyed by the versions of what they show, in the
# same cache as the rest (shared by every process with REDIS_URL), under the code's release.
# CACHE_FRAGMENTS=0 turns all of them off (to compare: make bench measures both ways).
CACHE_FRAGMENTS = env_bool("CACHE_FRAGMENTS", True)
CACHES["fragments"] = (
    {
        **CACHES["default"],
        "KEY_PREFIX": f"fragment:{code_release()}",
        "TIMEOUT": 24 * 3600,  # a key is never read after a change; unread ones go in a day
    }
    if CACHE_FRAGMENTS
    else {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
)

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"  # a host, so kombu does not warn
# Publishing from a request is only a nudge (members.notify.nudge): one try with short timeouts,
# no reconnect loop (kombu retries a lost connection for seconds by default). The worker's own
# consumer reconnects by Celery's broker_connection_* settings below.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT * 4
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 0,
    "socket_connect_timeout": REDIS_TIMEOUT * 4,
    "socket_timeout": REDIS_TIMEOUT * 4,
}
CELERY_TASK_PUBLISH_RETRY = False
# Without a broker (a first local run) tasks run in-process, so nothing is lost.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# The reminders' sweep (members.tasks.sweep): queues what has become due and sends the outbox
# (also what a lost task left behind). Every row is claimed before it is sent, so a second beat
# or two sweeps at once send nothing twice; a sweep that did not run is caught up by the next.
REMINDER_SWEEP_SECONDS = float(env("REMINDER_SWEEP_SECONDS", "300"))
# How often an open session page asks for the places taken (a small fragment of two queries).
PLACES_POLL_SECONDS = int(env("PLACES_POLL_SECONDS", "15"))
NOTIFICATION_BATCH_SIZE = int(env("NOTIFICATION_BATCH_SIZE", "1000"))
# How many worker processes send at once when a sweep finds many messages (the worker's
# concurrency: one per core).
NOTIFICATION_SENDERS = int(env("NOTIFICATION_SENDERS", "2"))
CELERY_BEAT_SCHEDULE = {
    "send-reminders": {
        "task": "members.tasks.sweep",
        "schedule": REMINDER_SWEEP_SECONDS,
        # A sweep that waited longer than its interval is superseded by the next one.
        "options": {"expires": REMINDER_SWEEP_SECONDS},
    },
    # AVG: people past the retention period are anonymised (members.retention); a second run
    # finds them already erased.
    "apply-retention": {
        "task": "members.tasks.apply_retention",
        "schedule": 24 * 3600.0,
    },
}

_email_backend = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
_smtp_options = {
    "host": env("EMAIL_HOST", "localhost"),
    "port": int(env("EMAIL_PORT", "25")),
    "username": env("EMAIL_HOST_USER") or None,
    "password": env("EMAIL_HOST_PASSWORD") or None,
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "timeout": 20,
}
MAILERS = {
    "default": {
        "BACKEND": _email_backend,
        "OPTIONS": _smtp_options
        if _email_backend.endswith("smtp.EmailBackend")
        else {"file_path": env("EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))}
        if _email_backend.endswith("filebased.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", "Kwaliteitsnetwerk mbo <noreply@kwaliteitsnetwerk.example>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Content Security Policy with nonces: no inline script anywhere, htmx without eval.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# make bench serves two reference endpoints (kwaliteitsnetwerk/wsgi.py and urls.py); never set
# this in production.
BENCH_REFERENCE = env_bool("KN_BENCH_REFERENCE", False)

# Where the demo accounts may exist: only with DEBUG on (see members/management/commands/seed_demo.py).
DEMO_PASSWORD = "demo-wachtwoord"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # In-process tasks (no broker) would log every task; keep the terminal for what matters.
        "celery.app.trace": {"level": "INFO" if REDIS_URL else "WARNING"},
    },
}
