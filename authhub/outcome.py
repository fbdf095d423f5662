"""What the observer hook ``authentication_outcome`` sees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from authhub.errors import AuthhubError
    from authhub.request import Request

OutcomeKind = Literal["authenticated", "anonymous", "refused", "locked", "fault"]


@attrs.frozen
class Outcome:
    """One finished run of the chain.

    ``kind`` is ``"authenticated"`` (a scheme answered), ``"anonymous"``
    (none did), ``"refused"`` (a scheme raised an :class:`AuthhubError`:
    wrong credentials, CSRF), ``"locked"`` (too many failed attempts: 429)
    or ``"fault"`` (a plugin or the store
    failed; the request was refused with 500/503).
    """

    kind: OutcomeKind
    request: Request = attrs.field(repr=False)
    scheme: str | None = None
    user: Any = None
    error: AuthhubError | None = None
