"""Signing keys in the store: made on first use, published at /oauth/jwks, rotated, retired, never shown.

``authhub oauth keys rotate`` runs as its own process (the console script)
against the live server's database; the server picks the rotation up
through the invalidation channel.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from joserfc import jws
from joserfc.jwk import RSAKey

from authhub import AuthHub, ConfigurationError, Request
from authhub_oauth import OAuthScheme
from authhub_oauth.clients import create_client, issue_token
from authhub_oauth.keys import PUBLISH_MARGIN
from authhub_oauth.models import SigningKeyRecord

from .provider_fixtures import Served, issuer_server, published_keys

__all__ = ["issuer_server"]  # a fixture, used by name

AUTHHUB = str(Path(sys.executable).with_name("authhub"))
JWT = {"access_token_format": "jwt"}
KEK = "hHDzAjF4xM3RXj0rjRBPTfzmZoJoeR7gR2Ma0-2ZlTI"  # 32 bytes, base64url: a test key, not a secret


def keys_of(hub: AuthHub) -> Any:
    return hub.find_scheme(OAuthScheme).server.keys


def cli(hub: AuthHub, base: str, *args: str, **oauth: str) -> subprocess.CompletedProcess[str]:
    """``authhub oauth keys ...`` as another process on ``hub``'s database, configured like it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    env.update({"AUTHHUB_DATABASE_URL": hub.settings["database_url"], "AUTHHUB_OAUTH_ISSUER": base,
                "AUTHHUB_OAUTH_ACCESS_TOKEN_FORMAT": "jwt",
                **{f"AUTHHUB_OAUTH_{key.upper()}": value for key, value in oauth.items()}})
    return subprocess.run([AUTHHUB, "oauth", "keys", *args], env=env, capture_output=True, text=True, timeout=60,
                          cwd=Path(hub.settings["database_url"].removeprefix("sqlite:///")).parent)


def client_token(hub: AuthHub) -> str:
    client, _ = create_client(hub, name="Reporting", grant_types=["client_credentials"], scopes=["read"])
    return issue_token(hub, client.client_id, None, ["read"])


def whoami(base: str, token: str) -> requests.Response:
    return requests.get(f"{base}/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def kid_of(token: str) -> str:
    """The ``kid`` a token's header names (read, not verified)."""
    return str(jws.extract_compact(token.encode()).headers()["kid"])


def test_the_first_key_is_made_on_first_use_and_published(issuer_server: Callable[..., Served]) -> None:
    hub, base = issuer_server()
    with hub.store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(SigningKeyRecord)) == 0
    document = requests.get(f"{base}/oauth/jwks", timeout=10)

    assert document.status_code == 200
    assert document.headers["Content-Type"] == "application/json"
    (key,) = document.json()["keys"]
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}  # no private member
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    public = RSAKey.import_key(key)
    assert public.thumbprint() == key["kid"]  # the kid is the RFC 7638 thumbprint
    assert public.raw_value.key_size >= 2048
    assert requests.get(f"{base}/oauth/jwks", timeout=10).json() == document.json()  # made once


def test_two_processes_making_the_first_key_at_once_agree(
    issuer_server: Callable[..., Served], authhub_make_hub: Callable[..., AuthHub], authhub_postgres_url: str
) -> None:
    hubs = [authhub_make_hub(schemes=["oauth"], database_url=authhub_postgres_url,
                             oauth={"issuer": "https://auth.example"}) for _ in range(4)]
    start = threading.Barrier(len(hubs))
    kids: list[str] = []

    def make(hub: AuthHub) -> None:
        start.wait()
        kids.append(keys_of(hub).current("RS256").kid)

    threads = [threading.Thread(target=make, args=(hub,)) for hub in hubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(kids) == len(hubs)
    assert len(set(kids)) == 1
    with hubs[0].store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(SigningKeyRecord)) == 1


def test_one_current_key_per_algorithm_is_enforced_by_the_database(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=["oauth"], oauth={"issuer": "https://auth.example"})
    keys_of(hub).current("RS256")
    with pytest.raises(sa.exc.IntegrityError), hub.store.session() as session:
        session.add(SigningKeyRecord(kid="another", alg="RS256", private_jwk="{}", retire_after=None))


def test_rotation_keeps_old_tokens_valid_until_they_expire_then_drops_the_key(
    issuer_server: Callable[..., Served], authhub_make_hub: Callable[..., AuthHub]
) -> None:
    hub, base = issuer_server(oauth=JWT)
    before = client_token(hub)
    old_kid = kid_of(before)
    assert whoami(base, before).status_code == 200
    assert hub.changes.wait_until_current()

    rotated = cli(hub, base, "rotate")
    assert rotated.returncode == 0, rotated.stderr
    (new_line, until_line) = rotated.stdout.splitlines()
    new_kid = new_line.split()[3]
    assert new_line == f"new current key {new_kid} (RS256)" and new_kid != old_kid

    # The server hears of it (another process) and signs with the new key at once.
    deadline = time.monotonic() + 2
    while kid_of(client_token(hub)) != new_kid:
        assert time.monotonic() < deadline, "the server still signs with the old key 2 s after the rotation"
        time.sleep(0.02)
    published = {key.kid for key in published_keys(base).keys}
    assert published == {old_kid, new_kid}
    assert whoami(base, before).status_code == 200  # the old key's tokens still verify

    listed = json.loads(cli(hub, base, "list", "--json").stdout)
    assert [(key["kid"], key["alg"], key["current"]) for key in listed] == [
        (old_kid, "RS256", False), (new_kid, "RS256", True)]
    retire_after = dt.datetime.fromisoformat(listed[0]["published_until"])
    expected = dt.datetime.fromisoformat(listed[1]["created"]) + dt.timedelta(seconds=3600 + PUBLISH_MARGIN)
    assert abs((retire_after - expected).total_seconds()) < 2  # the longest token lifetime, and the margin
    assert until_line.startswith(f"the keys they replace stay published until {retire_after.isoformat()[:16]}")
    table = cli(hub, base, "list")
    assert table.stdout.splitlines()[0] == "kid\talg\tcreated\tcurrent\tpublished until"
    assert f"{new_kid}\tRS256\t" in table.stdout and "\tyes\twhile current" in table.stdout

    # Time passes: every token the old key signed has expired, and the key is gone from the JWKS.
    with hub.store.session() as session:
        session.execute(sa.update(SigningKeyRecord).where(SigningKeyRecord.kid == old_kid)
                        .values(retire_after=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    hub.invalidate("oauth-keys", old_kid)
    assert {key.kid for key in published_keys(base).keys} == {new_kid}
    # (The server's cache keeps its answer no longer than the token lives, which has ended by now in real time.)
    verifier = authhub_make_hub(schemes=["oauth"], oauth={"issuer": base, **JWT, "cache_ttl": 0})
    with pytest.raises(Exception, match="does not publish"):
        Request("GET", "/", [("Authorization", f"Bearer {before}")], hub=verifier).identity
    assert "(retired)" in cli(hub, base, "list").stdout


def test_rotation_reaches_a_hub_that_only_verifies(issuer_server: Callable[..., Served],
                                                   authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub, base = issuer_server(oauth=JWT)
    verifier = authhub_make_hub(schemes=["oauth"], oauth={"issuer": base, **JWT})
    assert verifier.changes.wait_until_current()
    first = client_token(hub)
    assert Request("GET", "/", [("Authorization", f"Bearer {first}")], hub=verifier).identity.is_authenticated
    keys_of(hub).rotate(["RS256"])
    second = client_token(hub)
    assert kid_of(second) != kid_of(first)
    # The verifier's cached keys lack the new one: the announcement (or a re-read for the unknown kid) brings it.
    assert Request("GET", "/", [("Authorization", f"Bearer {second}")], hub=verifier).identity.is_authenticated


def test_rotate_without_an_issuer_says_what_to_set(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=["oauth"])
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    env["AUTHHUB_DATABASE_URL"] = hub.settings["database_url"]
    result = subprocess.run([AUTHHUB, "oauth", "keys", "rotate"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "oauth.issuer" in result.stderr and "AUTHHUB_OAUTH_ISSUER" in result.stderr
    listed = subprocess.run([AUTHHUB, "oauth", "keys", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and listed.stdout.startswith("No signing keys yet")


def test_private_keys_are_never_in_a_repr_or_a_log(issuer_server: Callable[..., Served],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hub, base = issuer_server(oauth=JWT)
    token = client_token(hub)
    keys_of(hub).rotate(["RS256", "ES256"])
    assert whoami(base, token).status_code == 200
    with hub.store.session() as session:
        records = session.scalars(sa.select(SigningKeyRecord)).all()
    secrets = [json.loads(record.private_jwk)["d"] for record in records]
    assert len(secrets) == 3
    keys = keys_of(hub)
    shown = " ".join([caplog.text, repr(keys), repr(keys._ring()), repr(keys.current("RS256")),
                      repr(keys.current("ES256")), repr(records), repr(keys.all_keys())])
    for secret in secrets:
        assert secret not in shown


def test_keys_are_sealed_at_rest_with_a_key_encryption_key(issuer_server: Callable[..., Served],
                                                            authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub, base = issuer_server(oauth={**JWT, "key_encryption_key": KEK})
    token = client_token(hub)
    assert whoami(base, token).status_code == 200
    with hub.store.session() as session:
        (stored,) = session.scalars(sa.select(SigningKeyRecord.private_jwk)).all()
    assert stored.count(".") == 4 and not stored.startswith("{")  # a compact JWE
    assert '"d"' not in stored
    database = Path(hub.settings["database_url"].removeprefix("sqlite:///"))
    assert b'"kty":"RSA"' not in database.read_bytes()

    without = authhub_make_hub(schemes=["oauth"], oauth={"issuer": base, **JWT})
    with pytest.raises(ConfigurationError, match="set oauth.key_encryption_key"):
        keys_of(without).published()
    other_kek = "A" * 43
    wrong = authhub_make_hub(schemes=["oauth"], oauth={"issuer": base, **JWT, "key_encryption_key": other_kek})
    with pytest.raises(ConfigurationError, match="cannot decrypt signing key") as refused:
        keys_of(wrong).published()
    assert other_kek not in str(refused.value)
    # Listing needs no key: it reads no private part.
    listed = cli(hub, base, "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["current"] is True


def test_a_stored_key_swapped_for_another_is_refused(authhub_make_hub: Callable[..., AuthHub]) -> None:
    hub = authhub_make_hub(schemes=["oauth"], oauth={"issuer": "https://auth.example"})
    kid = keys_of(hub).current("RS256").kid
    other = RSAKey.generate_key(2048, private=True)
    with hub.store.session() as session:
        session.execute(sa.update(SigningKeyRecord).values(
            private_jwk=json.dumps(other.as_dict(private=True))))
    fresh = authhub_make_hub(schemes=["oauth"], oauth={"issuer": "https://auth.example"})
    with pytest.raises(ConfigurationError, match=f"signing key '{kid}': the stored key does not match its kid"):
        keys_of(fresh).current("RS256")


def test_purge_drops_long_retired_keys_and_expired_revocations(authhub_make_hub: Callable[..., AuthHub]) -> None:
    from authhub_oauth.cli import purge_rows
    from authhub_oauth.models import RevokedJWT

    hub = authhub_make_hub(schemes=["oauth"], oauth={"issuer": "https://auth.example", **JWT})
    keys = keys_of(hub)
    first = keys.current("RS256").kid
    keys.rotate(["RS256"])
    second = keys.current("RS256").kid
    now = dt.datetime.now(dt.timezone.utc)
    with hub.store.session() as session:
        session.execute(sa.update(SigningKeyRecord).where(SigningKeyRecord.kid == first)
                        .values(retire_after=now - dt.timedelta(days=31)))
        session.add_all([RevokedJWT(jti="gone", expires_at=now - dt.timedelta(seconds=1)),
                         RevokedJWT(jti="alive", expires_at=now + dt.timedelta(hours=1))])

    purge_rows(hub, now - dt.timedelta(days=30))

    with hub.store.session() as session:
        assert session.scalars(sa.select(SigningKeyRecord.kid)).all() == [second]
        assert session.scalars(sa.select(RevokedJWT.jti)).all() == ["alive"]
