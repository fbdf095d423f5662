"""``Route``: a path that a plugin adds to the reference server (``serve_routes``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from authhub.http import Response
    from authhub.request import Request

Handler = Callable[["Request"], "Response"]


@attrs.frozen
class Route:
    """One path of the reference server and the handler that answers it.

    :param path: the exact path (``"/login"``).
    :param handler: takes the :class:`authhub.Request`, returns an
        :class:`authhub.Response`; raising an :class:`authhub.AuthhubError`
        answers with its status and JSON detail.
    :param methods: the methods it answers; others get 405.
    """

    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
