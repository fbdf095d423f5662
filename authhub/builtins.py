"""The core's own hook implementations, registered first in every hub."""

from __future__ import annotations

from typing import TYPE_CHECKING

from authhub.hookspecs import hookimpl
from authhub.users import SQLUserStore

if TYPE_CHECKING:
    from authhub.hub import AuthHub


@hookimpl(trylast=True)
def user_store(hub: AuthHub) -> SQLUserStore:
    return SQLUserStore(hub)
