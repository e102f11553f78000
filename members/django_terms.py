"""Terms of Django whose Dutch we set ourselves, so they are in our catalogue (locale/ wins
over Django's): messages whose English changed in Django 6.1 so that its Dutch catalogue no
longer matches them (they showed in English), and texts that say "u" where we say "je".

Nothing here runs; makemessages reads the calls."""

from django.utils.translation import gettext_noop, ngettext


def _catalogue() -> None:  # pragma: no cover - read by makemessages only
    ngettext(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        8,
    )
    ngettext(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        8,
    )


DJANGO_TERMS = [
    gettext_noop("- Select an option -"),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    gettext_noop("Your password can’t be too similar to your other personal information."),
    gettext_noop("This password is too common."),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("This password is entirely numeric."),
    gettext_noop("Your password can’t be entirely numeric."),
    gettext_noop("Your old password was entered incorrectly. Please enter it again."),
]
