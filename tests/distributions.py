"""Write real installed distributions (a ``.dist-info`` beside a module) for discovery tests."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

GOOD_SCHEME = """
import authhub

@authhub.hookimpl
def authenticate(request):
    if request.headers.get_all("x-{name}") == ["let-me-in"]:
        return authhub.User(7, "{name}-user"), None
    return None
"""


def install(
    site: Path, dist_name: str, version: str, entry_points: dict[str, str], modules: dict[str, str] | None = None
) -> None:
    """Lay out ``dist_name`` as pip would: ``<name>-<version>.dist-info`` with its entry points."""
    info = site / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[authhub]\n{lines}\n")
    (info / "RECORD").write_text("")
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


def unique(prefix: str) -> str:
    """A module name no other test has imported."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
