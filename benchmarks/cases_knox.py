"""django-rest-knox's ``TokenAuthentication``: digests (SHA-512) looked up by a key prefix.

A token is created for the benchmark user with knox's own manager (its
default 10-hour expiry); the other 9,999 users hold one token each.
"""

from __future__ import annotations

from typing import Any

from cases_drf import _user_call
from fixtures import USERNAME
from harness import Case

GROUP = "anchor"


def token() -> Case:
    from django.contrib.auth.models import User
    from django.test import RequestFactory
    from knox.auth import TokenAuthentication
    from knox.models import AuthToken

    user = User.objects.get(username=USERNAME)
    AuthToken.objects.filter(user=user).delete()
    _, key = AuthToken.objects.create(user)
    request: Any = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    return Case("knox TokenAuthentication", GROUP, _user_call(request, TokenAuthentication()),
                note="SHA-512 digest, prefix query + the user's other tokens")
