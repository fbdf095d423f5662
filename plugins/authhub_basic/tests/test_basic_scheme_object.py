"""The per-hub scheme object: owned by its hub, dropped with it, built on the public API only."""

from __future__ import annotations

import ast
import gc
import weakref
from pathlib import Path

import pytest

import authhub
import authhub_basic
from authhub.testing import hub_for_tests
from authhub_basic import BasicScheme

from .conftest import PASSWORD, basic, ready, request

SRC = Path(authhub_basic.__file__).parent


@pytest.mark.parametrize("cache_ttl", [0, 60])
def test_a_closed_hub_is_garbage_collected(tmp_path, cache_ttl):
    hub = hub_for_tests(tmp_path, schemes=["basic"], basic={"cache_ttl": cache_ttl})
    hub.upgrade()
    ready(hub)  # with the cache on, the invalidation channel's listener runs too
    hub.users.create("alice", PASSWORD)
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user.username == "alice"
    assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user.username == "alice"
    scheme = hub.find_scheme(BasicScheme)
    if cache_ttl:
        assert len(scheme.cache) == 1
    hub_ref, scheme_ref = weakref.ref(hub), weakref.ref(scheme)
    hub.close()
    if cache_ttl:
        assert len(scheme.cache) == 0
    del hub, scheme
    gc.collect()
    assert hub_ref() is None
    assert scheme_ref() is None


def test_a_closed_hub_with_an_application_store_is_garbage_collected(tmp_path):
    from authhub.appusers import AccountStorePlugin

    hub = hub_for_tests(tmp_path, schemes=["basic"], basic={"cache_ttl": 60},
                        plugins={"app_accounts": AccountStorePlugin()})
    hub.upgrade()
    ready(hub)
    hub.users.add("alice", PASSWORD)
    for _ in range(2):  # a miss, then a hit that reads the status from the store
        assert hub.authenticate(request(hub, basic("alice", PASSWORD))).user.username == "alice"
    hub_ref = weakref.ref(hub)
    hub.close()
    del hub
    gc.collect()
    assert hub_ref() is None


def test_each_hub_has_its_own_object(make_hub):
    one, two = make_hub(basic={"cache_ttl": 60}), make_hub(basic={"cache_ttl": 60})
    assert one.find_scheme(BasicScheme) is not two.find_scheme(BasicScheme)
    assert one.find_scheme(BasicScheme).hub is one
    assert one.find_scheme(BasicScheme).cache is not two.find_scheme(BasicScheme).cache


def test_no_module_keeps_state_about_hubs():
    for path in sorted(SRC.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                names = [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                         if isinstance(t, ast.Name)]
                # Constants only: the declared settings, the exports, patterns and the keyword.
                assert set(names) <= {"SETTINGS", "__all__", "__version__", "_CONTROL", "KEYWORD"}, (path, names)


def test_the_sources_use_only_the_public_api():
    offenders = []
    for path in sorted(SRC.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "authhub":
                if node.module != "authhub":
                    offenders.append(f"{path.name}:{node.lineno}: from {node.module}")
                offenders += [f"{path.name}:{node.lineno}: {alias.name}" for alias in node.names
                              if alias.name not in authhub.__all__]
            elif isinstance(node, ast.Import):
                offenders += [f"{path.name}:{node.lineno}: import {alias.name}" for alias in node.names
                              if alias.name.startswith("authhub.")]
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id == "authhub" and node.attr not in authhub.__all__):
                offenders.append(f"{path.name}:{node.lineno}: authhub.{node.attr}")
    assert offenders == []
