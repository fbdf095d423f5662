"""Django REST framework integration: authhub's chain as an authentication class.

Put ``"authhub.contrib.drf.AuthhubAuthentication"`` into
``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` (or a view's
``authentication_classes``) and keep DRF's permissions and throttling:
the chain's user is ``request.user`` as a Django user
(:class:`authhub.contrib.django.DjangoUser`: ``is_authenticated``, ``pk``,
``is_staff``, ``has_perm``...), so ``IsAuthenticated``, ``IsAdminUser``,
``IsAuthenticatedOrReadOnly`` and ``UserRateThrottle`` work unchanged; the
scheme's ``auth`` is ``request.auth``. The hub is the project's
(:func:`authhub.contrib.django.get_hub`, ``"authhub.contrib.django"`` in
``INSTALLED_APPS``).

To give some views a chain of their own, subclass it::

    class TokenOnly(AuthhubAuthentication):
        schemes = ["token"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request as DRFRequest

from authhub import errors
from authhub.contrib.django import authhub_request, django_user, get_hub

__all__ = ["AuthhubAuthentication", "drf_error"]


class AuthhubAuthentication(BaseAuthentication):
    """Run authhub's chain for a DRF view.

    Returns ``(user, auth)`` when a scheme answers and ``None`` for an
    anonymous request, so DRF's next authentication class (if any) and
    then its ``UNAUTHENTICATED_USER`` apply. Wrong credentials raise DRF's
    ``AuthenticationFailed``; the other authhub errors keep their status.
    """

    #: The chain of this class (``None``: the hub's configured chain).
    schemes: Sequence[str] | None = None

    def authenticate(self, request: DRFRequest) -> tuple[Any, Any] | None:
        converted = authhub_request(request._request)
        try:
            if self.schemes is None:
                identity = converted.identity
            else:
                identity = get_hub().authenticate(converted, self.schemes)
        except errors.AuthhubError as error:
            raise drf_error(error) from None
        if not identity.is_authenticated:
            return None
        return django_user(identity), identity.auth

    def authenticate_header(self, request: DRFRequest) -> str | None:
        """The first challenge of the chain: DRF sends one ``WWW-Authenticate`` line.

        ``None`` (no scheme has a challenge) makes DRF refuse with 403.
        """
        hub = get_hub()
        challenges = hub.challenges(authhub_request(request._request, hub), None, self.schemes)
        return challenges[0] if challenges else None


def drf_error(error: errors.AuthhubError) -> exceptions.APIException:
    """The DRF exception for an authhub error, with the same status and detail."""
    if isinstance(error, errors.AuthenticationFailed):
        return exceptions.AuthenticationFailed(error.detail)
    if isinstance(error, errors.NotAuthenticated):
        return exceptions.NotAuthenticated(error.detail)
    if isinstance(error, errors.PermissionDenied):
        return exceptions.PermissionDenied(error.detail)
    if isinstance(error, errors.TooManyRequests):
        return exceptions.Throttled(wait=error.retry_after, detail=error.detail)
    converted = exceptions.APIException(error.detail)
    converted.status_code = error.status_code
    return converted
