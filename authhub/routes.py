"""``Route``: a path that a plugin adds to the reference server (``serve_routes``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from authhub.http import Response
    from authhub.request import Request

Handler = Callable[["Request"], "Response"]

#: ``request.state`` key of the values a pattern route took from the path (``{"id": "7"}``).
PATH_PARAMS = "path_params"

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _compile(path: str) -> re.Pattern[str] | None:
    """The expression for a path with ``{name}`` segments; ``None`` for an exact path."""
    if "{" not in path and "}" not in path:
        return None
    parts, names = [], set()
    for segment in path.split("/"):
        placeholder = _PLACEHOLDER.fullmatch(segment)
        if placeholder is None:
            if "{" in segment or "}" in segment:
                raise ValueError(f"route {path!r}: a placeholder is a whole segment, {{name}} (letters, digits, _)")
            parts.append(re.escape(segment))
            continue
        name = placeholder.group(1)
        if name in names:
            raise ValueError(f"route {path!r}: placeholder {{{name}}} appears twice")
        names.add(name)
        parts.append(f"(?P<{name}>[^/]+)")
    return re.compile("/".join(parts))


@attrs.frozen
class Route:
    """One path of the reference server and the handler that answers it.

    :param path: the exact path (``"/login"``), or a pattern whose ``{name}``
        parts each match one non-empty path segment (``"/tokens/{id}"``); the
        handler finds the values in ``request.state["path_params"]``. An
        exact path wins over a pattern that also matches it.
    :param handler: takes the :class:`authhub.Request`, returns an
        :class:`authhub.Response`; raising an :class:`authhub.AuthhubError`
        answers with its status and JSON detail.
    :param methods: the methods it answers; others get 405.
    """

    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    pattern: re.Pattern[str] | None = attrs.field(
        init=False, repr=False, eq=False, default=attrs.Factory(lambda self: _compile(self.path), takes_self=True)
    )

    def match(self, path: str) -> dict[str, str] | None:
        """The values of the placeholders when ``path`` is this route's (``{}`` for an exact path), else ``None``."""
        if self.pattern is None:
            return {} if path == self.path else None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found is not None else None
