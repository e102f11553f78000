"""The one rule for e-mail addresses and domains, used at every door (sign-up, institution login,
invitation, guest, import, the bureau's forms, linking an account to a person).

An address is normalised once and stored that way; doors then compare exactly. Case-insensitive
comparison in the database is not safe: PostgreSQL's upper('ı') (dotless i) is 'I' and upper('ſ')
(long s) is 'S', so a look-alike address matched a real person (issue 24).

The rule:
- Unicode NFKC over the whole address (full-width letters, a long s become their plain letters);
- the domain encoded with IDNA to ASCII (`horızon.example` is `xn--horzon-7db.example`, another
  name than `horizon.example`); a domain IDNA cannot encode is no address;
- then a plain lowercase of ASCII letters only (A-Z), never Unicode case mapping.

Everything we store is therefore ASCII in the domain, so a look-alike spelled with letters from
outside ASCII never equals a member domain, and any mapping this rule makes (ſ → s) leads to the
real domain, which is where the verification mail then goes.
"""

import string
import unicodedata

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class AddressError(ValueError):
    """Not an address this rule can normalise (no @, or a domain IDNA cannot encode)."""


def ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def normalise_domain(domain: str) -> str:
    """A domain as we store and compare it: NFKC, IDNA to ASCII, ASCII lowercase."""
    domain = unicodedata.normalize("NFKC", domain.strip()).lstrip("@").rstrip(".")
    if not domain:
        raise AddressError(domain)
    try:
        # Python's IDNA codec, as Django's own EmailValidator and punycode() use it.
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise AddressError(domain) from error
    return ascii_lower(encoded)


def normalise_email(email: str) -> str:
    """An address as we store and compare it (see the module's docstring)."""
    email = unicodedata.normalize("NFKC", email.strip())
    local, at, domain = email.rpartition("@")
    if not at or not local:
        raise AddressError(email)
    return f"{ascii_lower(local)}@{normalise_domain(domain)}"


def normalised_or_none(email: str) -> str | None:
    """The normalised address, or None where there is none (then nothing may match)."""
    try:
        return normalise_email(email)
    except AddressError:
        return None


def domain_of(email: str) -> str | None:
    """The normalised domain of an address, or None."""
    normalised = normalised_or_none(email)
    return normalised.rpartition("@")[2] if normalised else None


def normalise_existing_rows(apps, schema_editor=None) -> list[str]:
    """The data migration's step (members 0014): every stored address and domain in its
    normalised form. Rows whose normalised forms would clash (two people whose addresses differ
    only in case or a look-alike letter) are left as they are and named, for the bureau to
    resolve: merging people is not a migration's decision. Returns what was left."""
    left = []
    for label, field in (
        ("members.Person", "email"),
        ("members.User", "email"),
        ("members.Invitation", "email"),
        ("members.EmailDomain", "domain"),
        ("account.EmailAddress", "email"),
    ):
        model = apps.get_model(label)
        normalise = normalise_domain if field == "domain" else normalise_email
        wanted: dict[str, list[tuple[int, str]]] = {}
        for pk, value in model._default_manager.values_list("pk", field).iterator():
            try:
                new = normalise(value) if value else value
            except AddressError:
                left.append(f"{label} {pk}: {value!r} is no address")
                continue
            wanted.setdefault(new, []).append((pk, value))
        for new, rows in wanted.items():
            changed = [pk for pk, value in rows if value != new]
            if not changed:
                continue
            if len(rows) > 1 and label != "members.Invitation":
                left.append(f"{label} {[pk for pk, _v in rows]}: all would be {new!r}")
                continue
            # A queryset update writes the value raw (as the field prepares it): exactly `new`.
            model._default_manager.filter(pk__in=changed).update(**{field: new})
    for line in left:
        print(f"\n  Address left as it was: {line}")
    return left
