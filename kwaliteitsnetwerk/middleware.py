from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers


class LanguageMiddleware:
    """Dutch first: the language is the one chosen with the language switch (cookie), else the
    account's language, else Dutch. The browser's Accept-Language is not used: an English
    browser on a Dutch network still gets Dutch until its user switches."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.available = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.available:
            user = getattr(request, "user", None)
            language = (
                getattr(user, "language", None)
                if user is not None and user.is_authenticated
                else None
            )
        if language not in self.available:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ["Cookie"])
        response.headers.setdefault("Content-Language", language)
        return response


class AdminSecondFactorMiddleware:
    """Where BUREAU_REQUIRE_MFA is on (production), an account that can open the Django admin
    (staff or superuser) goes nowhere without a second factor confirmed from its mailbox
    (members.second_factor): every page but the account pages (setting one up, confirming it,
    logging out) sends it to the next step."""

    ALLOWED_PREFIXES = ("/account/", "/static/", "/i18n/", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.BUREAU_REQUIRE_MFA
            and user is not None
            and user.is_authenticated
            and (user.is_staff or user.is_superuser)
            and not request.path.startswith(self.ALLOWED_PREFIXES)
        ):
            from members.models import has_second_factor

            if not has_second_factor(user.pk):
                from django.shortcuts import redirect

                from members.access import second_factor_step

                return redirect(second_factor_step(request, admin=True))
        return self.get_response(request)


class RefuseNulMiddleware:
    """A NUL character in the address or a form field is never valid input (PostgreSQL refuses
    it in text): answer 400 with a plain message instead of failing deeper down with a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sources = [request.GET, request.POST] if request.method == "POST" else [request.GET]
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for data in sources
            for key, values in data.lists()
        ):
            from django.shortcuts import render

            return render(request, "400.html", status=400)
        return self.get_response(request)
