"""One :class:`TokenAuthenticator` per hub, found in O(1) on every request.

Nothing is global about a hub: the authenticator is rebuilt when the hub's
store or settings change. Keeping them all (weakly) here is also what lets
a revocation in this process empty every hub's cache at once.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authhub import ConfigurationError
from authhub_token.authenticator import TokenAuthenticator

if TYPE_CHECKING:
    from authhub import AuthHub

_authenticators: dict[int, tuple[weakref.ref[AuthHub], TokenAuthenticator]] = {}
_lock = threading.Lock()


def authenticator_for(hub: AuthHub, section: Mapping[str, Any] | None = None) -> TokenAuthenticator:
    """The hub's authenticator (``section``: the token settings, when the caller has them)."""
    entry = _authenticators.get(id(hub))
    if entry is not None:  # the request path: _current() inlined
        authenticator = entry[1]
        if (entry[0]() is hub and authenticator.store is hub.store
                and (section is None or authenticator.section is section)):
            return authenticator
    with _lock:
        found = _current(hub, section)  # another thread may have built it meanwhile
        if found is not None:
            return found
        if section is None:
            section = hub.settings.section(scheme_name(hub))
        model = hub.hooks.token_model()
        if model is None:
            raise ConfigurationError("no token model: the token_model hook returned nothing")
        authenticator = TokenAuthenticator(hub.store, section, model)
        previous = _authenticators.get(id(hub))
        if previous is None:
            weakref.finalize(hub, _retire, id(hub))
        else:
            previous[1].close()  # the hub's store or settings changed
        _authenticators[id(hub)] = (weakref.ref(hub), authenticator)
        return authenticator


def _current(hub: AuthHub, section: Mapping[str, Any] | None) -> TokenAuthenticator | None:
    entry = _authenticators.get(id(hub))
    if entry is None:
        return None
    hub_ref, authenticator = entry
    if hub_ref() is hub and authenticator.store is hub.store and (section is None or authenticator.section is section):
        return authenticator
    return None


def _retire(hub_id: int) -> None:
    entry = _authenticators.pop(hub_id, None)
    if entry is not None:
        entry[1].close()


def scheme_name(hub: AuthHub) -> str:
    """The name this plugin is registered under in ``hub`` (``token`` from its entry point)."""
    name = hub.pm.get_name(sys.modules["authhub_token"])
    if name is None:
        raise ConfigurationError("the authhub_token plugin is not registered in this hub")
    return name


def forget_everywhere(**which: Any) -> None:
    """Drop cached answers in every hub of this process (see :meth:`TokenAuthenticator.forget`)."""
    for hub_ref, authenticator in list(_authenticators.values()):
        if hub_ref() is not None:
            authenticator.forget(**which)
