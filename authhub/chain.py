"""The chain runner: schemes in configured order, the first answer wins.

A scheme returns ``(user, auth)`` (it decides), ``None`` (not its kind of
credentials: next), or raises :class:`AuthhubError` (the chain stops and
the request is refused). Anything else a plugin raises is a fault and
fails closed: :class:`StoreUnavailable` (503) for a database that cannot be
reached, :class:`InternalError` (500) otherwise. Never anonymous.

The runner calls one scheme at a time, never a broadcast, because it must
know which scheme answered, pass each scheme its own settings, await
coroutine implementations and tell a plugin's fault from a refusal. Each
:class:`Link` is built once per chain: through the hub's plugin manager
when someone observes hook calls (tracing, a hook wrapper), else straight
to the implementation with the arguments it names.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from authhub.errors import AuthhubError, InternalError, StoreUnavailable, TooManyRequests
from authhub.identity import Identity
from authhub.outages import is_outage
from authhub.outcome import Outcome, OutcomeKind
from authhub.storeerrors import describe_outage

if TYPE_CHECKING:
    from authhub.hub import AuthHub
    from authhub.request import Request

log = logging.getLogger("authhub.chain")

_ARGUMENTS = ("request", "settings", "hub")


@attrs.frozen
class Link:
    """One scheme of a chain: its ``authenticate`` (and ``aauthenticate``) implementations and settings.

    A chain belongs to one hub, so the hub and the scheme's settings are
    bound here, once: :attr:`call` takes the request alone, and is the
    implementation itself when that is all it takes (a scheme object's
    ``authenticate(self, request)``). A ``caller``, when given, is the hook
    through the hub's plugin manager (:meth:`authhub.plugins.Hooks.member_caller`),
    for when hook calls are traced or wrapped; pluggy then binds the arguments.
    """

    name: str
    function: Callable[..., Any]
    argnames: tuple[str, ...]
    settings: Mapping[str, Any]
    hub: AuthHub = attrs.field(repr=False)
    caller: Callable[..., list[Any]] | None = attrs.field(default=None, kw_only=True, repr=False)
    #: The scheme's ``aauthenticate``: its non-blocking form for ASGI, if it has one.
    async_function: Callable[..., Any] | None = attrs.field(default=None, kw_only=True, repr=False)
    async_argnames: tuple[str, ...] = attrs.field(default=(), kw_only=True, repr=False)
    async_caller: Callable[..., list[Any]] | None = attrs.field(default=None, kw_only=True, repr=False)
    is_async: bool = attrs.field(init=False)
    #: ``call(request)`` passes the implementation exactly the arguments it names.
    call: Callable[[Request], Any] = attrs.field(init=False, repr=False)
    #: ``acall(request)``: a coroutine to await on the event loop; ``None`` sends
    #: :attr:`call` to a worker thread instead.
    acall: Callable[[Request], Any] | None = attrs.field(init=False, repr=False)

    @is_async.default
    def _is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    @call.default
    def _call(self) -> Callable[[Request], Any]:
        return _bound(self.function, self.argnames, self.settings, self.hub, self.caller)

    @acall.default
    def _acall(self) -> Callable[[Request], Any] | None:
        if self.async_function is not None:
            return _bound(self.async_function, self.async_argnames, self.settings, self.hub, self.async_caller)
        return self.call if self.is_async else None


def _bound(
    function: Callable[..., Any],
    argnames: Sequence[str],
    settings: Mapping[str, Any],
    hub: AuthHub,
    caller: Callable[..., list[Any]] | None,
) -> Callable[[Request], Any]:
    if caller is None:
        return bind_arguments(function, argnames, settings, hub)

    def through_pluggy(request: Request) -> Any:
        answers = caller(request=request, settings=settings, hub=hub)
        return answers[0] if answers else None

    return through_pluggy


def bind_arguments(
    function: Callable[..., Any], argnames: Sequence[str], settings: Mapping[str, Any], hub: AuthHub
) -> Callable[[Request], Any]:
    """A ``call(request)`` that passes ``function`` the subset of ``request``, ``settings``, ``hub`` it takes.

    Built once per chain: picking arguments by name on every request would
    cost more than a scheme's whole dispatch (this runs on every request).
    A function that takes the request alone is called as it is; parameters
    in the hookspec's order get a positional call; any other order is
    passed by name.
    """
    order = tuple(argnames)
    unknown = set(order) - set(_ARGUMENTS)
    if unknown:
        raise ValueError(f"authenticate takes unknown arguments: {sorted(unknown)}")
    if order == ("request",):
        return function
    if order == ("request", "settings", "hub"):
        return lambda request: function(request, settings, hub)
    if order == ("request", "settings"):
        return lambda request: function(request, settings)
    if order == ("request", "hub"):
        return lambda request: function(request, hub)
    if order == ("settings", "hub"):
        return lambda request: function(settings, hub)
    if order == ("settings",):
        return lambda request: function(settings)
    if order == ("hub",):
        return lambda request: function(hub)
    if not order:
        return lambda request: function()

    def by_name(request: Request) -> Any:
        given = {"request": request, "settings": settings, "hub": hub}
        return function(**{name: given[name] for name in order})

    return by_name


class Chain:
    """An ordered list of schemes, run for a request by :meth:`run` or :meth:`arun`."""

    def __init__(
        self,
        links: Sequence[Link],
        anonymous: Callable[[], Identity],
        observe: Callable[[Outcome], None] | None,
    ) -> None:
        self.links = tuple(links)
        self.names = tuple(link.name for link in self.links)
        self._anonymous = anonymous
        self._observe = observe

    def run(self, request: Request) -> Identity:
        """Authenticate ``request`` in this thread."""
        link = None
        try:
            for link in self.links:
                answer = asyncio.run(link.call(request)) if link.is_async else link.call(request)
                if answer is not None:
                    return self._answered(request, link, answer)
            return self._finish(request, self._anonymous())
        except AuthhubError as error:
            if error.scheme is None and link is not None:
                error.scheme = link.name
            _log_outage(error)
            self._refuse(request, error)
            raise
        except Exception as exc:
            assert link is not None  # only a scheme's code can raise here
            fault = _fault(link, exc)
            self._refuse(request, fault)
            raise fault from exc

    async def arun(self, request: Request) -> Identity:
        """Authenticate ``request`` without blocking the event loop.

        Coroutine implementations, and a scheme's ``aauthenticate``, are
        awaited on the loop; each run of consecutive plain implementations
        goes to one worker thread.
        """
        links = self.links
        link = None
        try:
            index = 0
            while index < len(links):
                link = links[index]
                if link.acall is not None:
                    index += 1
                    answer = await link.acall(request)
                    if answer is not None:
                        return self._answered(request, link, answer)
                    continue
                end = index + 1
                while end < len(links) and links[end].acall is None:
                    end += 1
                found = await asyncio.to_thread(self._run_plain, request, index, end)
                index = end
                if found is not None:
                    link, answer = found
                    return self._answered(request, link, answer)
            return self._finish(request, self._anonymous())
        except AuthhubError as error:
            # Plain schemes' errors were named and logged in their thread (_call).
            if link is not None and link.acall is not None:
                error.scheme = link.name
                _log_outage(error)
            self._refuse(request, error)
            raise
        except Exception as exc:
            assert link is not None and link.acall is not None  # plain schemes' faults were converted in their thread
            fault = _fault(link, exc)
            self._refuse(request, fault)
            raise fault from exc

    def _run_plain(self, request: Request, start: int, end: int) -> tuple[Link, tuple[Any, Any]] | None:
        for link in self.links[start:end]:
            answer = _call(link, request)
            if answer is not None:
                return link, answer
        return None

    def _answered(self, request: Request, link: Link, answer: Any) -> Identity:
        """The identity for a scheme's answer; a malformed answer is refused (500)."""
        if not (type(answer) is tuple and len(answer) == 2 and answer[0] is not None):
            answer = _check(link, answer)  # a tuple subclass passes, anything else raises
        identity = Identity(answer[0], answer[1], link.name)
        return identity if self._observe is None else self._finish(request, identity)

    def _finish(self, request: Request, identity: Identity) -> Identity:
        if self._observe is not None:
            kind: OutcomeKind = "authenticated" if identity.scheme is not None else "anonymous"
            self._observe(Outcome(kind, request, identity.scheme, identity.user))
        return identity

    def _refuse(self, request: Request, error: AuthhubError) -> None:
        if self._observe is not None:
            kind: OutcomeKind
            if isinstance(error, (InternalError, StoreUnavailable)):
                kind = "fault"
            elif isinstance(error, TooManyRequests):
                kind = "locked"
            else:
                kind = "refused"
            self._observe(Outcome(kind, request, error.scheme, None, error))


def _call(link: Link, request: Request) -> tuple[Any, Any] | None:
    """Run one scheme in this thread, turning its faults into refusals."""
    try:
        answer = link.call(request)
    except AuthhubError as error:
        error.scheme = link.name
        _log_outage(error)
        raise
    except Exception as exc:
        raise _fault(link, exc) from exc
    return _check(link, answer)


def _log_outage(error: AuthhubError) -> None:
    """A store a scheme found unreachable refuses the request (503) and is worth an ERROR line."""
    if isinstance(error, StoreUnavailable):
        log.error("scheme %r: store unavailable: %s", error.scheme, describe_outage(error.__cause__))


def _check(link: Link, answer: Any) -> tuple[Any, Any] | None:
    if answer is None:
        return None
    if not isinstance(answer, tuple) or len(answer) != 2 or answer[0] is None:
        error = InternalError()
        error.scheme = link.name
        log.error(
            "scheme %r: authenticate returned %s; expected (user, auth) or None", link.name, type(answer).__name__
        )
        raise error
    return answer


def _fault(link: Link, exc: Exception) -> AuthhubError:
    error: AuthhubError
    if is_outage(exc):
        log.error("scheme %r: store unavailable: %s", link.name, describe_outage(exc), exc_info=exc)
        error = StoreUnavailable()
    else:
        log.error("scheme %r: authenticate raised %s; request refused", link.name, type(exc).__name__, exc_info=exc)
        error = InternalError()
    error.scheme = link.name
    return error
