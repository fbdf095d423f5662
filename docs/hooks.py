"""MkDocs hooks (``hooks:`` in mkdocs.yml): the generated reference pages and the page markers.

MkDocs puts this file's directory on ``sys.path`` while it loads it, so the
two modules beside it import by name.
"""

from __future__ import annotations

from typing import Any

import generate_reference
import includes
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page


def on_files(files: Files, config: MkDocsConfig, **kwargs: Any) -> Files:
    for uri, make in generate_reference.PAGES.items():
        files.append(File.generated(config, uri, content=make()))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, **kwargs: Any) -> str:
    return includes.expand(
        markdown, page.file.src_uri, config.extra["repository"], generate_reference.plugin_settings_table
    )
