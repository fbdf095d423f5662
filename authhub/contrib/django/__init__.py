"""Django integration: the hub on an application config, ``request.user`` like Django's.

``settings.py``::

    INSTALLED_APPS = [..., "authhub.contrib.django"]          # builds the hub from AUTHHUB
    MIDDLEWARE = [..., "authhub.contrib.django.AuthhubMiddleware"]
    AUTHHUB = {"schemes": ["token"]}                           # AuthHub keyword arguments, or an AuthHub

- :class:`AuthhubConfig` keeps the hub (:func:`get_hub`), built at start-up;
- :class:`AuthhubMiddleware` sets ``request.user`` lazily (a :class:`DjangoUser`
  or :class:`DjangoAnonymousUser`) and ``request.authhub``;
- :func:`login_required` refuses anonymous requests like an API (401/403);
- ``include("authhub.contrib.django.urls")`` serves the hub's plugin routes.
"""

from authhub.contrib.django.apps import AuthhubConfig, authhub_config, get_hub
from authhub.contrib.django.middleware import AuthhubMiddleware, authhub_request, django_response, login_required
from authhub.contrib.django.users import DjangoAnonymousUser, DjangoUser, django_user
from authhub.contrib.django.views import hub_urlpatterns

__all__ = [
    "AuthhubConfig",
    "AuthhubMiddleware",
    "DjangoAnonymousUser",
    "DjangoUser",
    "authhub_config",
    "authhub_request",
    "django_response",
    "django_user",
    "get_hub",
    "hub_urlpatterns",
    "login_required",
]
