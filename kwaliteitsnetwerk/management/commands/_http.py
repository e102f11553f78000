"""make bench over HTTP, as production runs: gunicorn with DEBUG=0 and the production
middleware, driven by wrk from another process with logged-in users; two reference endpoints
(KN_BENCH_REFERENCE=1) served by the same server in the same run."""

import contextlib
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

ROOT = Path(__file__).resolve().parents[3]
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50":%d,"p95":%d,"p99":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn as docker-compose runs it (3 workers), on the bench database."""

    def __init__(self, workers: int = 3, *, cache_fragments: bool = True):
        self.port = free_port()
        self.secret_key = secrets.token_urlsafe(50)
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{self.port}",
            "DATABASE_URL": (
                f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}"
                f":{db['PORT'] or 5432}/{db['NAME']}"
            ),
            "DB_CONN_MAX_AGE": "60",
            "BUREAU_REQUIRE_MFA": "0",
            "KN_BENCH_REFERENCE": "1",
            "LOG_LEVEL": "WARNING",
            "CACHE_FRAGMENTS": "1" if cache_fragments else "0",
        }
        self.workers = workers
        self.process = None

    def __enter__(self):
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "kwaliteitsnetwerk.wsgi",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
        )
        for _ in range(100):
            try:
                status, _body, _ms = self.get("/_bench/ok")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=20)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, cookie: str = "", **extra) -> dict:
        # As behind the TLS proxy: the app sees HTTPS (secure cookies, no redirect).
        return {"X-Forwarded-Proto": "https", "Cookie": cookie, **extra}

    def get(self, path: str, cookie: str = "") -> tuple[int, bytes, float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        began = time.perf_counter()
        conn.request("GET", path, headers=self.headers(cookie))
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, body, (time.perf_counter() - began) * 1000

    def cookie_for(self, user) -> str:
        """A logged-in session, written with the server's SECRET_KEY."""
        with override_settings(SECRET_KEY=self.secret_key):
            client = Client()
            client.force_login(user)
            return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def wrk(
    server: Server, path: str, cookie: str, *, seconds: int, connections: int, htmx: bool = False
) -> dict:
    """wrk from its own process: requests/s, p50/p95/p99 in ms, errors (non-2xx included)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT)
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                "-H",
                "X-Forwarded-Proto: https",
                "-H",
                f"Cookie: {cookie}",
                *(["-H", "HX-Request: true"] if htmx else []),
                server.url + path,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    report = json.loads(output.strip().splitlines()[-1])
    return {
        "rps": report["requests"] / (report["duration_us"] / 1e6),
        "p50": report["p50"] / 1000,
        "p95": report["p95"] / 1000,
        "p99": report["p99"] / 1000,
        "errors": report["errors"] + report["non2xx"],
        "requests": report["requests"],
    }


def burst(server: Server, session, people, *, workers: int) -> dict:
    """`people` post the HTMX sign-up at once (each their own login), from `workers` threads in
    this process (wrk cannot log in 200 people): errors, p50/p95, and how fast the places went."""
    cookies = [server.cookie_for(person.user) for person in people]
    token = secrets.token_hex(16)
    path = f"/bijeenkomsten/{session.pk}/aanmelden/"
    barrier = threading.Barrier(min(workers, len(people)))
    times, errors = [], []

    def post(cookie):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=60)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        began = time.perf_counter()
        conn.request(
            "POST",
            path,
            body="remarks=",
            headers=server.headers(
                f"{cookie}; csrftoken={token}",
                **{
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-CSRFToken": token,
                    "Origin": f"https://127.0.0.1:{server.port}",
                    "HX-Request": "true",
                },
            ),
        )
        response = conn.getresponse()
        response.read()
        conn.close()
        times.append((time.perf_counter() - began) * 1000)
        if response.status != 200:
            errors.append(response.status)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(post, cookies))
    total = time.perf_counter() - began
    times.sort()
    return {
        "total": total,
        "p50": times[len(times) // 2],
        "p95": times[max(0, int(len(times) * 0.95) - 1)],
        "errors": errors,
    }
