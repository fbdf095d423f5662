"""The core's throwaway PostgreSQL and Redis servers (``tests/servers.py``), for this folder's tests."""

from __future__ import annotations

from ..servers import PostgresServer, RedisServer, free_port

__all__ = ["PostgresServer", "RedisServer", "free_port"]
