"""Terms of django-allauth whose Dutch we set ourselves.

allauth's own Dutch catalogue says "Aanmelden" for signing in; in this network "Aanmelden" means
signing up for a session, so accounts use "Inloggen"/"Uitloggen". Listing the msgids here keeps
them in our catalogue (locale/ wins over app catalogues), where they are translated.
"""

from django.utils.translation import gettext_noop

ALLAUTH_TERMS = [
    gettext_noop("Sign In"),
    gettext_noop("Sign Out"),
    gettext_noop("Sign Up"),
    gettext_noop("Are you sure you want to sign out?"),
    gettext_noop("You have signed out."),
    gettext_noop("Enter Sign-In Code"),
    gettext_noop("Sign-In Code"),
    gettext_noop("Send me a sign-in code"),
    gettext_noop("Other sign-in options"),
    gettext_noop("Sign in with a passkey"),
    gettext_noop("Login Cancelled"),
    gettext_noop(
        "If you have not created an account yet, then please %(link)ssign up%(end_link)s first."
    ),
    gettext_noop("Already have an account? Then please %(link)ssign in%(end_link)s."),
]
