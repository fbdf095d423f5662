"""A Griffe extension: the Sphinx roles of authhub's docstrings as links of the site.

authhub's docstrings name other objects the Sphinx way (``:class:`authhub.Request```,
``:meth:`close```, ``:func:`authenticate```). mkdocstrings would print those
roles as they are; this extension turns each into an autorefs link when
the object it names is on the site (a public name of ``authhub.__all__``
and its members, or a hook of ``authhub.hookspecs``), and into plain code
otherwise (an internal module, a private helper).

Loaded by mkdocstrings from mkdocs.yml (``extensions: [docs/griffe_roles.py]``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|data|exc|obj|mod):`(?P<tilde>~?)(?P<target>[\w.]+)`")
_HOOKSPECS = "authhub.hookspecs"


class SphinxRoles(griffe.Extension):
    """Rewrite the roles in every docstring of the ``authhub`` package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "authhub":
            return
        exports = {str(name) for name in pkg.exports or ()}
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _ROLE.sub(functools.partial(_link, obj=obj, pkg=pkg, exports=exports),
                                                obj.docstring.value)


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias and member.parent is obj:
            found += _walk(member)  # type: ignore[arg-type]  # not an alias, so an Object
    return found


def _link(match: re.Match[str], obj: griffe.Object, pkg: griffe.Module, exports: set[str]) -> str:
    target = match["target"]
    text = target.rsplit(".", 1)[-1] if match["tilde"] else target
    identifier = _documented(target, obj, pkg, exports)
    return f"[`{text}`][{identifier}]" if identifier else f"`{text}`"


def _documented(target: str, obj: griffe.Object, pkg: griffe.Module, exports: set[str]) -> str | None:
    """The identifier under which the site documents ``target`` as named in ``obj``'s docstring, if it does."""
    candidates = []
    if target.startswith("authhub."):
        candidates.append(target)
    else:
        candidates.append(f"authhub.{target}")
        public_class = _public_class(obj, exports)
        if public_class is not None:
            candidates.append(f"authhub.{public_class}.{target}")
        if obj.module.path == _HOOKSPECS:
            candidates.append(f"{_HOOKSPECS}.{target}")
    for candidate in candidates:
        parts = candidate.split(".")
        on_site = (len(parts) > 1 and parts[1] in exports) or (candidate.startswith(_HOOKSPECS + ".")
                                                               and len(parts) == 3)
        if on_site and _exists(pkg, parts[1:]):
            return candidate
    return None


def _public_class(obj: griffe.Object, exports: set[str]) -> str | None:
    """The public class ``obj`` is (or is a member of), by its exported name."""
    current: griffe.Object | None = obj
    while current is not None:
        if current.is_class and current.name in exports:
            return current.name
        current = current.parent
    return None


def _exists(pkg: griffe.Module, parts: list[str]) -> bool:
    """Whether ``pkg.<parts>`` is rendered: it exists, is not private and has a docstring."""
    current: Any = pkg
    try:
        for part in parts:
            if part.startswith("_"):
                return False
            current = current.members[part]
        return current.docstring is not None
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return False
