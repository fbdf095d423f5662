"""``authhub oauth purge``: expired codes and ended token families go, living families stay whole."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from authhub import AuthHub
from authhub.cli import cli
from authhub.plugins import load_entry_points, new_manager
from authhub.testing import hub_for_tests
from authhub_oauth.clients import create_client
from authhub_oauth.models import AuthorizationCode, OAuthToken, digest

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module", autouse=True)
def oauth_command() -> None:
    """Add the plugins' commands the way ``authhub``'s console script does."""
    pm = new_manager()
    load_entry_points(pm, {})
    pm.hook.register_commands(cli=cli)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthHub]:
    url = (request.getfixturevalue("authhub_postgres_url") if request.param == "postgres"
           else f"sqlite:///{tmp_path / 'oauth.db'}")
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("AUTHHUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", url)
    monkeypatch.setenv("AUTHHUB_SCHEMES", "oauth")
    hub = hub_for_tests(tmp_path, database_url=url, schemes=["oauth"])
    hub.upgrade()
    yield hub
    hub.close()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def token(family: str, client_id: str, now: dt.datetime, **columns: Any) -> OAuthToken:
    values: dict[str, Any] = {"issued_at": now - 60 * DAY, "expires_at": now + DAY, "user_id": "1", "scope": "read"}
    values.update(columns)
    return OAuthToken(access_token_digest=digest(secrets.token_hex(16)), family_id=family, client_id=client_id,
                      **values)


def code(client_id: str, **columns: Any) -> AuthorizationCode:
    return AuthorizationCode(code_digest=digest(secrets.token_hex(16)), client_id=client_id, user_id="1",
                             redirect_uri="http://127.0.0.1:9/cb", **columns)


def remaining(hub: AuthHub) -> tuple[list[str], int]:
    with hub.store.session() as session:
        families = session.scalars(sa.select(OAuthToken.family_id).order_by(OAuthToken.id)).all()
        codes = session.scalar(sa.select(sa.func.count()).select_from(AuthorizationCode))
    return list(families), int(codes or 0)


def test_purge(hub: AuthHub) -> None:
    client, _ = create_client(hub, name="Web", grant_types=["authorization_code", "refresh_token"],
                              redirect_uris=["http://127.0.0.1:9/cb"], scopes=["read"])
    cid = client.client_id
    # Taken now, not when the module was imported: the last step's "30 s ago" must not overtake
    # the code that expires in five minutes, however late in a long run this test comes.
    now = dt.datetime.now(dt.timezone.utc)
    with hub.store.session() as session:
        session.add_all([
            token("live", cid, now),
            # A rotated refresh token whose successor still lives: kept, so that its reuse revokes the family.
            token("rotated", cid, now, expires_at=now - 50 * DAY,
                  refresh_expires_at=now - 40 * DAY, refresh_used_at=now - 50 * DAY),
            token("rotated", cid, now, expires_at=now - 40 * DAY, refresh_expires_at=now + 20 * DAY),
            token("ended", cid, now, expires_at=now - 50 * DAY, refresh_expires_at=now - 40 * DAY,
                  refresh_used_at=now - 50 * DAY),
            token("ended", cid, now, expires_at=now - 45 * DAY, refresh_expires_at=now - 35 * DAY),
            token("revoked-long-ago", cid, now, revoked_at=now - 40 * DAY, refresh_expires_at=now + 20 * DAY),
            token("revoked-lately", cid, now, revoked_at=now - 5 * DAY),
            token("client-credentials", cid, now, user_id=None, expires_at=now - 31 * DAY),
            token("expired-lately", cid, now, expires_at=now - 2 * DAY),
            code(cid, expires_at=now - 40 * DAY, used_at=now - 40 * DAY),
            code(cid, expires_at=now - 35 * DAY),
            code(cid, expires_at=now - dt.timedelta(minutes=1)),
            code(cid, expires_at=now + dt.timedelta(minutes=5)),
        ])

    first = invoke("oauth", "purge")
    assert first.exit_code == 0, first.output
    assert first.stdout == "purged 2 authorization codes and 4 tokens\n"
    assert remaining(hub) == (["live", "rotated", "rotated", "revoked-lately", "expired-lately"], 2)

    second = invoke("oauth", "purge", "--older-than", "30s")
    assert second.stdout == "purged 1 authorization code and 2 tokens\n"
    assert remaining(hub) == (["live", "rotated", "rotated"], 1)
    assert invoke("oauth", "purge", "--older-than", "1h").stdout == "purged 0 authorization codes and 0 tokens\n"


@pytest.mark.parametrize("value", ["30", "tomorrow", "-5d", "1y"])
def test_purge_refuses_a_bad_duration(hub: AuthHub, value: str) -> None:
    result = invoke("oauth", "purge", "--older-than", value)
    assert result.exit_code == 2
    assert f"Invalid value for --older-than: {value!r} is not a duration" in result.stderr
