import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kwaliteitsnetwerk.settings")
application = get_wsgi_application()

if os.environ.get("KN_BENCH_REFERENCE") == "1":
    # make bench only (never set in production): the bare reference, a plain "ok" served before
    # Django and its middleware, so every page can be measured as a share of this stack's ceiling.
    _django = application

    def application(environ, start_response):
        if environ.get("PATH_INFO") == "/_bench/ok":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        return _django(environ, start_response)
