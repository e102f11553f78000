# The OpenID provider on loopback for the institution's login (tests/oidc.py).
from tests.oidc import _oidc_server, oidc  # noqa: F401
