"""A real OpenID provider on loopback for the institution's login (oidc-provider-mock, a Flask
app in a thread): the app talks to it over HTTP as it would to SURFconext, and the browser (or
the test, standing in for the person) answers its authorisation form.

Use the `oidc` fixture: it starts the provider once per session and points the app's settings
at it for the test (kwaliteitsnetwerk.settings.institution_login_provider, as production does).
"""

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

CLIENT_ID = "kwaliteitsnetwerk-test"
CLIENT_SECRET = "test-client-secret"  # the mock takes any client and secret


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass
class Provider:
    url: str

    def person(self, sub: str, **claims) -> str:
        """Tell the provider who `sub` is (the claims its ID token and userinfo give)."""
        request = urllib.request.Request(  # noqa: S310 - the local provider
            f"{self.url}/users/{urllib.parse.quote(sub, safe='')}",
            data=json.dumps(claims).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 204
        return sub

    def authorize(self, authorize_url: str, sub: str) -> str:
        """The person says yes at the provider's form: returns our callback URL (with the code)."""
        data = urllib.parse.urlencode({"sub": sub}).encode()
        request = urllib.request.Request(authorize_url, data=data, method="POST")  # noqa: S310
        try:
            _opener.open(request, timeout=10)  # noqa: S310
        except urllib.error.HTTPError as answer:
            if answer.code in (302, 303):
                return answer.headers["Location"]
            raise
        raise AssertionError("the provider did not send the person back")

    def log_in(self, client, sub: str, **claims):
        """The whole login through the Django test client; the response of our callback."""
        from django.conf import settings
        from django.urls import reverse

        self.person(sub, **claims)
        start = client.post(
            reverse("openid_connect_login", kwargs={"provider_id": settings.INSTITUTION_LOGIN_ID})
        )
        assert start.status_code == 302, start
        assert start["Location"].startswith(self.url), start["Location"]
        callback = urllib.parse.urlsplit(self.authorize(start["Location"], sub))
        return client.get(f"{callback.path}?{callback.query}")


@pytest.fixture(scope="session")
def _oidc_server():
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def oidc(_oidc_server, settings) -> Provider:
    from kwaliteitsnetwerk.settings import institution_login_provider, origin_of

    settings.SOCIALACCOUNT_PROVIDERS = institution_login_provider(
        _oidc_server, CLIENT_ID, CLIENT_SECRET, name="SURFconext (test)"
    )
    # As settings.py does for OIDC_SERVER_URL: the login form may be answered with a redirect
    # to the provider.
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "form-action": [*settings.SECURE_CSP["form-action"], origin_of(_oidc_server)],
    }
    return Provider(_oidc_server)
