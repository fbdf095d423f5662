"""``AuthhubConfig``: the Django application that owns the hub.

Django creates one application config per project and keeps it; the hub
lives on it (issue 12: no module keeps state about hubs). It is built in
:meth:`~AuthhubConfig.ready` from the ``AUTHHUB`` setting, so a
misconfigured chain stops the project at start-up, and built again when a
test changes the setting (``override_settings(AUTHHUB=...)``).
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from authhub.contrib.routes import route_table
from authhub.hub import AuthHub
from authhub.routes import Route

__all__ = ["AuthhubConfig", "authhub_config", "get_hub"]

#: The application label (``apps.get_app_config("authhub")``).
LABEL = "authhub"


class AuthhubConfig(AppConfig):
    """``"authhub.contrib.django"`` in ``INSTALLED_APPS``: the project's hub and its plugin routes.

    ``AUTHHUB`` is an :class:`authhub.AuthHub`, or a dict of its keyword
    arguments (``{"schemes": ["token"], "database_url": ...}``); without it
    the hub reads the environment and configuration files. A hub built from
    a dict is closed when the setting changes; a hub handed in stays the
    caller's.
    """

    name = "authhub.contrib.django"
    label = LABEL
    verbose_name = "authhub"
    default = True

    def __init__(self, app_name: str, app_module: Any) -> None:
        super().__init__(app_name, app_module)
        self._hub: AuthHub | None = None
        self._built_here = False
        self._routes: dict[str, Route] = {}

    def ready(self) -> None:
        self.load()
        setting_changed.connect(self._setting_changed)

    @property
    def hub(self) -> AuthHub:
        """The hub of the ``AUTHHUB`` setting."""
        return self._hub if self._hub is not None else self.load()

    @property
    def routes(self) -> dict[str, Route]:
        """The hub's plugin routes by path (``/login``, ``/oauth/token``, ...)."""
        if self._hub is None:
            self.load()
        return self._routes

    def load(self) -> AuthHub:
        """Build the hub of the current ``AUTHHUB`` setting, closing one this config built before."""
        configured = getattr(settings, "AUTHHUB", None)
        if isinstance(configured, AuthHub):
            hub, built_here = configured, False
        else:
            hub, built_here = AuthHub(**(configured or {})), True
        previous, previous_built_here = self._hub, self._built_here
        self._hub, self._built_here, self._routes = hub, built_here, route_table(hub)
        if previous is not None and previous_built_here and previous is not hub:
            previous.close()
        return hub

    def _setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting == "AUTHHUB":
            self.load()


def authhub_config() -> AuthhubConfig:
    """The installed :class:`AuthhubConfig` (``ImproperlyConfigured`` when it is not installed)."""
    try:
        config = apps.get_app_config(LABEL)
    except LookupError:
        raise ImproperlyConfigured(
            'authhub: add "authhub.contrib.django" to INSTALLED_APPS; it builds the hub from the AUTHHUB setting'
        ) from None
    if not isinstance(config, AuthhubConfig):
        raise ImproperlyConfigured(f"authhub: the application labelled {LABEL!r} is not authhub.contrib.django")
    return config


def get_hub() -> AuthHub:
    """The project's hub: the one of the ``AUTHHUB`` setting, kept by :class:`AuthhubConfig`."""
    return authhub_config().hub
