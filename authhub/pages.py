"""The HTML pages people see (login, consent, tokens): Jinja2 templates an application can override.

A plugin renders ``hub.pages.render("login.html", context, package="authhub_session")``.
Templates are looked up in the application's ``templates_dir`` first, then
in the plugin's own ``templates/`` directory, then in the core's, which
holds ``base.html`` (the layout every page extends) and ``authhub.css``
(the one stylesheet). Autoescaping is on: a value is text unless a
template says otherwise.

The stylesheet is inlined into every page and allowed by its SHA-256 in the
page's ``Content-Security-Policy``: the pages need no route of their own
for it, so they look the same wherever the hub's routes are mounted
(``authhub serve``, Flask, Django, Starlette, FastAPI), and an
application's own ``authhub.css`` gets its own hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from authhub.errors import ConfigurationError
from authhub.http import Response

STYLESHEET = "authhub.css"

#: A host as a CSP source may name it: a DNS name or an IPv4 address, or an IPv6 address in brackets.
_HOST = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


class Pages:
    """The templates of one hub's pages, and the headers every page is sent with.

    :param templates_dir: the application's directory of templates, or
        ``None``; a relative path is relative to ``directory``.
    :param directory: where the hub's configuration file is.
    :raises ConfigurationError: ``templates_dir`` is not a directory.
    """

    def __init__(self, templates_dir: str | None, directory: Path) -> None:
        self.templates_dir: Path | None = None
        if templates_dir is not None:
            path = directory / templates_dir
            if not path.is_dir():
                raise ConfigurationError(f"templates_dir: {str(path)!r} is not a directory")
            self.templates_dir = path
        #: One Jinja2 environment per plugin package: its loader knows that plugin's templates.
        self._environments: dict[str, jinja2.Environment] = {}

    def environment(self, package: str) -> jinja2.Environment:
        """The environment that finds ``package``'s templates (after the application's)."""
        found = self._environments.get(package)
        if found is None:
            loaders: list[jinja2.BaseLoader] = []
            if self.templates_dir is not None:
                loaders.append(jinja2.FileSystemLoader(self.templates_dir))
            loaders += [jinja2.PackageLoader(package, "templates"), jinja2.PackageLoader("authhub", "templates")]
            found = jinja2.Environment(
                loader=jinja2.ChoiceLoader(loaders), autoescape=True, undefined=jinja2.StrictUndefined,
                trim_blocks=True, lstrip_blocks=True,
            )
            self._environments[package] = found
        return found

    def stylesheet(self, package: str) -> str:
        """The text of ``authhub.css`` as ``package``'s pages inline it (never run as a template)."""
        environment = self.environment(package)
        assert environment.loader is not None
        text, _, _ = environment.loader.get_source(environment, STYLESHEET)
        if "</" in text:
            raise ConfigurationError(f"{STYLESHEET}: a stylesheet inlined into a <style> element cannot contain '</'")
        return text

    def render(self, template: str, context: Mapping[str, Any], *, package: str, status: int = 200,
               form_targets: Iterable[str] = (), headers: Iterable[tuple[str, str]] = ()) -> Response:
        """``template`` rendered with ``context`` (and ``stylesheet``), as a page.

        :param package: the plugin's package, whose ``templates/`` holds its own templates.
        :param form_targets: URLs outside this site that a form of the page may
            post to or be redirected to (the consent page's redirect URI).
        :param headers: more header lines.
        """
        stylesheet = self.stylesheet(package)
        # The stylesheet is a file of authhub or of the application, never a visitor's text, and holds no '</'.
        safe_stylesheet = Markup(stylesheet)  # noqa: S704
        text = self.environment(package).get_template(template).render({**context, "stylesheet": safe_stylesheet})
        digest = base64.b64encode(hashlib.sha256(stylesheet.encode()).digest()).decode()
        return Response.html(text, status, [*page_headers(digest, form_targets), *headers])

    def redirect(self, location: str, status: int = 303, headers: Iterable[tuple[str, str]] = ()) -> Response:
        """A redirect from a page, with the pages' caching and referrer rules."""
        return Response.redirect(location, status, [*REDIRECT_HEADERS, *headers])


#: Pages hold tokens: never cached. Their referrer stays on the site: a browser then sends the
#: site's own ``Origin`` with their forms, which the session scheme's CSRF check needs, while
#: another site never learns the page's address (issue 16: ``no-referrer`` made it ``Origin: null``).
REDIRECT_HEADERS = (
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "same-origin"),
)


def page_headers(style_digest: str, form_targets: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The header lines of a page whose ``<style>`` has SHA-256 ``style_digest`` (base64)."""
    form_action = " ".join(["'self'", *(csp_source(url) for url in form_targets)])
    policy = (
        # Same-origin files are allowed, so an application's templates can use its own static files;
        # inline scripts never are, and styles only from the stylesheet the page inlines.
        f"default-src 'self'; style-src 'sha256-{style_digest}' 'self'; object-src 'none'; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    return [
        *REDIRECT_HEADERS,
        ("Content-Security-Policy", policy),
        # A page that is framed can be clicked through without the user seeing it.
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
    ]


def csp_source(url: str) -> str:
    """The CSP source expression of ``url``'s origin: ``https://app.example:8443``, or ``com.example.app:``.

    A URL whose host a source cannot name exactly gets its scheme alone
    (never a character that would end the directive).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not _SCHEME.fullmatch(scheme):
        raise ValueError(f"not an absolute URL: {url[:200]!r}")
    try:
        port = parts.port
    except ValueError:
        return f"{scheme}:"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if not _HOST.fullmatch(host):
        return f"{scheme}:"
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")
