"""Markers that pull text from elsewhere in the repository into a page of the site.

A hand-written page says where its text lives instead of copying it, so
the site and the README (or SECURITY.md) cannot tell two stories. The README
is a short front page; what the site takes from it is what must be on both
(the two commands, the tour, the smallest application, the benchmark tables):

- ``<!-- authhub:include README.md "Performance" -->`` is the README's
  ``## Performance`` section, its heading dropped (the page has its own);
- ``<!-- authhub:include SECURITY.md -->`` is the whole file, its first
  heading dropped;
- ``<!-- authhub:settings token -->`` is the installed ``token`` plugin's
  settings table, generated like the configuration reference.

Relative links in included text are rewritten for the page: to the page
of the site that holds the target (``docs/design.md`` -> ``design.md``),
otherwise to the file in the repository on GitHub. Absolute links to such a
file on GitHub (all the README's links are absolute, for the package index)
become links to its page too. A marker that names a missing file or
section, or a plugin that is not installed, is an error (the build stops),
never an empty page.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable
from pathlib import Path

#: The repository root (this file is docs/includes.py).
ROOT = Path(__file__).resolve().parent.parent

#: Repository files that the site shows as a page of its own, by their path in the repository.
SITE_PAGES = {
    "SECURITY.md": "security.md",
    "authhub/hookspecs.py": "reference/hooks.md",
    "docs/design.md": "design.md",
    "docs/adapters.md": "adapters.md",
    "plugins/authhub_basic/README.md": "schemes/basic.md",
    "plugins/authhub_token/README.md": "schemes/token.md",
    "plugins/authhub_session/README.md": "schemes/session.md",
    "plugins/authhub_oauth/README.md": "schemes/oauth.md",
}

_MARKER = re.compile(r"^<!-- authhub:(?P<kind>include|settings) (?P<arguments>.+?) -->[ \t]*$", re.MULTILINE)
_LINK = re.compile(r"(?P<text>!?\[[^\]\n]*\])\((?P<target>[^)\s]+)\)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(?P<level>#{1,6}) (?P<title>.+?)\s*$")


class MarkerError(ValueError):
    """A marker that cannot be expanded: the message names the page and what is missing."""


def section(text: str, title: str) -> str:
    """The body of the section headed ``title`` (any level), up to the next heading of its level or higher.

    :raises MarkerError: no such heading.
    """
    lines = text.splitlines()
    in_fence = False
    start = level = None
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading is None:
            continue
        if start is None:
            if heading["title"] == title:
                start, level = number + 1, len(heading["level"])
        elif len(heading["level"]) <= (level or 0):
            return "\n".join(lines[start:number]).strip("\n") + "\n"
    if start is None:
        raise MarkerError(f"no heading {title!r}")
    return "\n".join(lines[start:]).strip("\n") + "\n"


def without_title(text: str) -> str:
    """``text`` less its first line when that is a level-1 heading."""
    first, _, rest = text.partition("\n")
    return rest.lstrip("\n") if first.startswith("# ") else text


def site_page(repo_path: str) -> str | None:
    """The page of the site that shows the repository file ``repo_path``, if one does."""
    if repo_path in SITE_PAGES:
        return SITE_PAGES[repo_path]
    if repo_path.startswith("docs/") and repo_path.endswith(".md"):
        return repo_path[len("docs/"):]
    return None


def rewrite_links(text: str, source: str, page: str, repository: str) -> str:
    """Make the links of ``text`` (from the repository file ``source``) work on the site page ``page``.

    Relative links go to the site's page for their target, otherwise to the file on the
    repository's site. Absolute links to a file of this repository that the site shows as a page
    (the README must link absolutely: its links also appear on the package index) go to that page.
    """
    on_repository = re.compile(re.escape(repository.rstrip("/")) + r"/(?:blob|tree)/main/(?P<path>[^#]+)")

    def fix(match: re.Match[str]) -> str:
        target = match["target"]
        path, hash_, fragment = target.partition("#")
        absolute = on_repository.fullmatch(path)
        if absolute is not None:
            shown = site_page(absolute["path"])
            if shown is None:
                return match[0]
            return f"{match['text']}({posixpath.relpath(shown, posixpath.dirname(page) or '.')}{hash_}{fragment})"
        if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target):
            return match[0]  # absolute, or an anchor of the same text
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        shown = site_page(repo_path)
        if shown is not None:
            new = posixpath.relpath(shown, posixpath.dirname(page) or ".") + hash_ + fragment
        else:
            kind = "tree" if (ROOT / repo_path).is_dir() else "blob"
            new = f"{repository.rstrip('/')}/{kind}/main/{repo_path}" + hash_ + fragment
        return f"{match['text']}({new})"

    out: list[str] = []
    in_fence = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        out.append(line if in_fence else _LINK.sub(fix, line))
    return "".join(out)


def include(arguments: list[str], page: str, repository: str) -> str:
    """The text an ``authhub:include FILE ["Section"]`` marker stands for."""
    if not 1 <= len(arguments) <= 2:
        raise MarkerError(f"expected a file and at most one section title, got {arguments}")
    source = arguments[0]
    path = ROOT / source
    if not path.is_file():
        raise MarkerError(f"no file {source} in the repository")
    text = path.read_text(encoding="utf-8")
    try:
        body = section(text, arguments[1]) if len(arguments) == 2 else without_title(text)
    except MarkerError as error:
        raise MarkerError(f"{source}: {error}") from None
    return rewrite_links(body, source, page, repository)


def expand(markdown: str, page: str, repository: str, settings_table: Callable[[str], str]) -> str:
    """``markdown`` with every marker replaced by its text.

    :param page: the page's path in the site (``schemes/token.md``), for links.
    :param repository: the repository's web address, for links to files that are no page.
    :param settings_table: the settings table of an installed plugin, by name.
    :raises MarkerError: a marker that cannot be expanded, naming the page.
    """
    def replace(match: re.Match[str]) -> str:
        arguments = shlex.split(match["arguments"])
        try:
            if match["kind"] == "include":
                return include(arguments, page, repository)
            if len(arguments) != 1:
                raise MarkerError(f"expected one plugin name, got {arguments}")
            return settings_table(arguments[0])
        except (MarkerError, LookupError) as error:
            raise MarkerError(f"{page}: {match[0]}: {error}") from None

    return _MARKER.sub(replace, markdown)
