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
# Every change of the password, the addresses or the second factor is mailed to the owner
# (allauth's notifications, MFA's too; our Dutch texts in templates/account/email and
# templates/mfa/email): someone who got in with a stolen password does not go unnoticed.
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_RATE_LIMITS = {
    # Per client address only: per account the limit is a growing delay, never a lock-out
    # someone else can trigger (members.login_delay, also for the code step).
    "login_failed": "10/m/ip",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}
# Login rate limits count per client address: the connecting address, unless you run proxies
# in front that set X-Forwarded-For and say how many (docker-compose.yml runs one and sets 1).
# Trusting a proxy that is not there lets a client choose its own address (issue 24), so the
# default, also with DEBUG=0, is none.
ALLAUTH_TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0"))

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_FORMS = {"authenticate": "members.account_forms.AuthenticateForm"}
MFA_TOTP_ISSUER = "Kwaliteitsnetwerk mbo"
# Bureau staff see everything: in production their pages ask for a second factor first.
BUREAU_REQUIRE_MFA = env_bool("BUREAU_REQUIRE_MFA", not DEBUG)
# No write on every request: the list of active logins shows when each began.
USERSESSIONS_TRACK_ACTIVITY = False

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Amsterdam"
# One way to write a time: "09.30" (templates, mails, and where Django formats a moment itself:
# kwaliteitsnetwerk/formats/nl). Calendar files, CSV and JSON keep ISO 8601.
TIME_FORMAT = "H.i"
FORMAT_MODULE_PATH = ["kwaliteitsnetwerk.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
# An upload up to the largest file allowed (coalitions.uploads.MAX_BYTES, 20 MB) is held in
# memory while the request is read, never in a temporary file: the one write to disk is the
# storage's, inside its row's transaction, where a full or read-only disk becomes a message
# beside the file field (coalitions.uploads.stored_with_row) instead of a 500.
FILE_UPLOAD_MAX_MEMORY_SIZE = 21 * 1024 * 1024
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
# A task is acknowledged when the worker takes it, not after it ran. The outbox is the queue:
# every message is a row claimed in the database, so a worker killed mid-task loses nothing
# (its claim is taken over after Notification.CLAIM_TIMEOUT, the beat's next sweep sends the
# rest) and a task message is only a nudge. Late acks bought nothing and cost a crash: with
# unacknowledged messages, kombu's Redis transport restores them over a connection it has
# closed when Redis dies (`AttributeError: 'NoneType' object has no attribute 'hostname'`,
# celery/kombu#970 and #582) and the worker exits. Without them there is nothing to restore; the
# consumer reconnects (broker_connection_retry, 100 tries with growing pauses), and a worker
# that gives up or dies exits and is restarted by compose (docs/architecture.md).
CELERY_TASK_ACKS_LATE = False
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# The reminders' sweep (members.tasks.sweep): queues what has become due and sends the outbox
# (also what a lost task left behind). Every row is claimed before it is sent, so a second beat
# or two sweeps at once send nothing twice; a sweep that did not run is caught up by the next.
REMINDER_SWEEP_SECONDS = float(env("REMINDER_SWEEP_SECONDS", "300"))
# Between the sweeps, the outbox alone (no rules: one query when nothing is due) is sent this
# often: what a lost nudge or an unreachable broker left behind, and a dead worker's claim once
# Notification.CLAIM_TIMEOUT has passed, go out within a minute and a half, not five.
OUTBOX_SWEEP_SECONDS = float(env("OUTBOX_SWEEP_SECONDS", "30"))
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
    "send-outbox": {
        "task": "members.tasks.send_notifications",
        "schedule": OUTBOX_SWEEP_SECONDS,
        "options": {"expires": OUTBOX_SWEEP_SECONDS},
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

# --- Log in with your institution's account (OpenID Connect, issue 24) -------------------------
# allauth's own openid_connect provider, configured from the environment (SURFconext speaks
# OIDC). Without OIDC_SERVER_URL there is no provider: no button, nothing else changes. Who may
# come in, and as whom, is members.institution_login (through members.adapter).
INSTALLED_APPS += [
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
]
SOCIALACCOUNT_ADAPTER = "members.adapter.SocialAccountAdapter"
INSTITUTION_LOGIN_ID = "instelling"  # in the login URLs: /account/oidc/instelling/login/
# The claim that names the person's organisation by a domain (deltion.nl); without it in the
# answer, the domain of the verified e-mail address decides.
OIDC_ORGANISATION_CLAIM = env("OIDC_ORGANISATION_CLAIM", "schac_home_organization")


def institution_login_provider(
    server_url: str, client_id: str, secret: str, *, name: str = "", email_verified: bool = False
) -> dict:
    """SOCIALACCOUNT_PROVIDERS for one OpenID provider (the tests build theirs with it too)."""
    return {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": INSTITUTION_LOGIN_ID,
                    "name": name or "OpenID Connect",
                    "client_id": client_id,
                    "secret": secret,
                    "settings": {
                        "server_url": server_url,
                        "oauth_pkce_enabled": True,
                        # A provider that vouches for the addresses it sends without an
                        # email_verified claim (the institution's own directory behind it).
                        "verified_email": email_verified,
                    },
                }
            ]
        }
    }


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


OIDC_SERVER_URL = env("OIDC_SERVER_URL").rstrip("/")
if OIDC_SERVER_URL:
    if not env("OIDC_CLIENT_ID") or not env("OIDC_CLIENT_SECRET"):
        raise ImproperlyConfigured(
            "OIDC_SERVER_URL is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too."
        )
    if not DEBUG and not OIDC_SERVER_URL.startswith("https://"):
        raise ImproperlyConfigured("OIDC_SERVER_URL must be an https:// address with DEBUG=0.")
    SOCIALACCOUNT_PROVIDERS = institution_login_provider(
        OIDC_SERVER_URL,
        env("OIDC_CLIENT_ID"),
        env("OIDC_CLIENT_SECRET"),
        name=env("OIDC_DISPLAY_NAME"),
        email_verified=env_bool("OIDC_EMAIL_VERIFIED", False),
    )
else:
    SOCIALACCOUNT_PROVIDERS = {}
# The login starts with a POST from our own form (CSRF), never with a GET a page could trigger.
SOCIALACCOUNT_LOGIN_ON_GET = False
# An account is made at once (no second form); members.adapter decides whether it may be.
SOCIALACCOUNT_AUTO_SIGNUP = True
# An existing account with the same (normalised, verified) address is the person's own: it is
# connected, never duplicated (members.adapter.SocialAccountAdapter.authenticate_by_email).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False  # we never call the provider on the person's behalf
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
if OIDC_SERVER_URL:
    # The login form's answer is a redirect to the provider: the CSP lets forms go there too.
    SECURE_CSP["form-action"] = [*SECURE_CSP["form-action"], origin_of(OIDC_SERVER_URL)]
# --- end of the institution's account ----------------------------------------------------------

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
