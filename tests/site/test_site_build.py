"""The documentation site as a reader gets it: ``mkdocs build --strict``, offline, with its generated pages.

MkDocs and its theme come from ``docs/requirements.txt``; the ``docs`` tox
environment installs them and runs this directory. The other environments
leave it out (``--ignore=tests/site``): they do not install MkDocs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from authhub.config import CORE_SETTINGS

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_site_builds_strictly_and_needs_no_network(tmp_path: Path) -> None:
    site = tmp_path / "site"
    started = time.monotonic()
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    seconds = time.monotonic() - started
    assert built.returncode == 0, built.stdout + built.stderr
    print(f"mkdocs build --strict: {seconds:.1f} s")
    assert seconds < 120, f"the site took {seconds:.0f} s to build"

    pages = list(site.rglob("*.html"))
    assert len(pages) > 15
    for page in pages:
        html = page.read_text(encoding="utf-8")
        external = re.findall(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//[^\"]*\"", html)
        assert not external, f"{page.relative_to(site)} loads {external}"
    configuration = (site / "reference" / "configuration" / "index.html").read_text(encoding="utf-8")
    assert all(f"AUTHHUB_{key.upper()}" in configuration for key in CORE_SETTINGS)
    hooks = (site / "reference" / "hooks" / "index.html").read_text(encoding="utf-8")
    assert 'id="authhub.hookspecs.authenticate"' in hooks
    token = (site / "schemes" / "token" / "index.html").read_text(encoding="utf-8")
    assert "AUTHHUB_TOKEN_CACHE_TTL" in token
