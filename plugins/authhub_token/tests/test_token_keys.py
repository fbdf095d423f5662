"""Keys: a recognisable prefix, 256 random bits, a checksum that catches any one changed character."""

from __future__ import annotations

import hashlib
import re

from authhub_token import PATTERN, PREFIX
from authhub_token.keys import ALPHABET, KEY_LENGTH, digest, generate_key, is_well_formed
from authhub_token.models import Token


def test_a_key_has_the_prefix_the_length_and_only_base62_characters():
    key = generate_key()
    assert key.startswith(PREFIX) and PREFIX == "ahk_"
    assert len(key) == KEY_LENGTH == 55
    assert set(key[len(PREFIX):]) <= set(ALPHABET)
    assert re.fullmatch(PATTERN, key), "secret scanners' pattern must match every key"
    assert is_well_formed(key)


def test_keys_are_unique():
    keys = {generate_key() for _ in range(2000)}
    assert len(keys) == 2000


def test_every_single_changed_character_is_refused_by_the_checksum():
    key = generate_key()
    for position in range(len(PREFIX), KEY_LENGTH):
        for replacement in "0aZ9f":
            if key[position] != replacement:
                changed = key[:position] + replacement + key[position + 1:]
                assert not is_well_formed(changed), (position, replacement)


def test_truncated_extended_swapped_and_foreign_keys_are_refused():
    key = generate_key()
    assert not is_well_formed(key[:-1])
    assert not is_well_formed(key + "0")
    assert not is_well_formed("xyz_" + key[4:])
    assert not is_well_formed(key[:10] + key[11] + key[10] + key[12:]) or key[10] == key[11]
    assert not is_well_formed(key[:-1] + "é")
    assert not is_well_formed("")
    assert not is_well_formed("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")  # a DRF key


def test_only_the_sha256_is_stored_and_the_model_fills_a_fresh_key():
    token = Token(user_id=1)
    assert token.key is not None and is_well_formed(token.key)
    assert token.digest == digest(token.key) == hashlib.sha256(token.key.encode()).digest()
    assert token.key not in repr(token) and token.digest.hex() not in repr(token)
    assert Token(user_id=1).key != token.key


def test_the_model_keeps_a_given_well_formed_key_and_refuses_a_malformed_one():
    key = generate_key()
    assert Token(user_id=1, key=key).digest == digest(key)
    try:
        Token(user_id=1, key="not-a-key")
    except ValueError as error:
        assert "not-a-key" not in str(error)
    else:
        raise AssertionError("a malformed key was accepted")
