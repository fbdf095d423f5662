"""authhub-apikey: ``X-API-Key: <key>`` checked against ``user:sha256(key)`` pairs in the settings."""

import hashlib
import hmac

import authhub


@authhub.hookimpl
def scheme_settings():
    return {"keys": authhub.Setting([], kind=list, help="user:sha256-hex-of-key pairs")}


@authhub.hookimpl
def authenticate(request, settings):
    key = request.headers.get("x-api-key")
    if key is None:
        return None  # not our kind of credentials: the next scheme is tried
    digest = hashlib.sha256(key.encode()).hexdigest()
    for number, entry in enumerate(settings["keys"], start=1):
        username, _, expected = entry.partition(":")
        if hmac.compare_digest(digest, expected):
            return authhub.User(number, username), None
    raise authhub.AuthenticationFailed("Invalid API key.")


@authhub.hookimpl
def challenge():
    return 'ApiKey header="X-API-Key"'
