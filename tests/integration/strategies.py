"""Hypothesis strategies for hostile requests: Authorization headers, cookies and form bodies.

Every generated request carries the set of users its credentials name
(``owners``): a real credential names its owner, anything made up or
mutated names nobody. The property the tests check is that the answer is
one of those users, anonymous, or a refusal.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence

import attrs
from hypothesis import strategies as st

from authhub_token.keys import ALPHABET, PREFIX, RANDOM_LENGTH

from .conftest import Person, World

KEYWORDS = ("Basic", "Token", "Bearer", "Digest", "Negotiate", "")
#: Characters that break parsers: controls, separators, quotes, non-ASCII, surrogates are not in HTTP.
NASTY = st.sampled_from(["\x00", "\t", "\r", "\n", "\x7f", " ", ",", ";", "=", ":", '"', "\\", "\u00e9", "\u2028",
                         "\ufeff", "\U0001f600", "%", "+", "/"])


@attrs.frozen
class Hostile:
    """One generated request: header lines, an optional form body, and whose credentials it carries."""

    headers: tuple[tuple[str, str], ...]
    owners: frozenset[str] = frozenset()
    method: str = "GET"
    body: bytes = b""

    def with_(self, other: Hostile) -> Hostile:
        return Hostile(self.headers + other.headers, self.owners | other.owners, self.method, self.body or other.body)


def mixed_case(keyword: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(keyword), max_size=len(keyword)).map(
        lambda flips: "".join(c.upper() if f else c.lower() for c, f in zip(keyword, flips, strict=True)))


def junk_text(max_size: int = 64) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=max_size),
        st.text(alphabet=st.characters(codec="latin-1"), max_size=max_size),
        st.lists(st.one_of(NASTY, st.characters(codec="ascii")), max_size=max_size).map("".join),
        st.binary(max_size=max_size).map(lambda raw: raw.decode("latin-1")),
    )


def huge(unit: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(unit, st.integers(min_value=1_000, max_value=20_000)).map(lambda pair: (pair[0] or "A") * pair[1])


def well_formed_key(body: str) -> str:
    """A token key with a valid checksum (what passes the scheme's first check)."""
    start = PREFIX + body
    return start + f"{zlib.crc32(start.encode()):08x}"


def mutated(secret: str) -> st.SearchStrategy[str]:
    """``secret`` with one character changed, dropped or added: never the original, nor the original
    with whitespace around it."""
    def change(args: tuple[int, str, int]) -> str:
        index, char, how = args
        index %= max(len(secret), 1)
        if how == 0:
            return secret[:index] + char + secret[index + 1:]
        if how == 1:
            return secret[:index] + secret[index + 1:]
        return secret[:index] + char + secret[index:]

    # Whitespace around a credential is no change: header and cookie parsers strip it (RFC 6265 §5.2).
    return st.tuples(st.integers(0, 10_000), st.one_of(NASTY, st.characters(codec="ascii")), st.integers(0, 2)).map(
        change).filter(lambda text: text.strip() != secret)


def authorization_values(people: Sequence[Person], former: Sequence[Person] = ()
                         ) -> st.SearchStrategy[tuple[str, frozenset[str]]]:
    """``(Authorization value, owners)`` pairs of every kind; ``former`` people's credentials name nobody."""
    person = st.sampled_from(list(people))
    nobody: frozenset[str] = frozenset()
    deactivated = [(p.headers(scheme)["Authorization"], nobody)
                   for p in former for scheme in ("basic", "token", "oauth")]

    def owned(value: st.SearchStrategy[str], who: st.SearchStrategy[frozenset[str]]) -> st.SearchStrategy:
        return st.tuples(value, who)

    good_basic = person.map(lambda p: ("Basic " + base64.b64encode(f"{p.username}:{p.password}".encode()).decode(),
                                       frozenset({p.username})))
    good_token = person.flatmap(lambda p: st.tuples(mixed_case("token"), st.sampled_from([" ", "  "])).map(
        lambda kw: (f"{kw[0]}{kw[1]}{p.token}", frozenset({p.username}))))
    # RFC 9110 §11.4: the auth-scheme is followed by spaces; the one Authorization reader refuses a tab.
    tab_token = person.flatmap(lambda p: mixed_case("token").map(lambda kw: f"{kw}\t{p.token}"))
    good_bearer = person.flatmap(lambda p: mixed_case("bearer").map(
        lambda kw: (f"{kw} {p.bearer}", frozenset({p.username}))))
    wrong_password = person.flatmap(lambda p: mutated(p.password).map(
        lambda pw: "Basic " + base64.b64encode(f"{p.username}:{pw}".encode()).decode()))
    other_password = st.tuples(person, person).filter(lambda pair: pair[0] != pair[1]).map(
        lambda pair: "Basic " + base64.b64encode(f"{pair[0].username}:{pair[1].password}".encode()).decode())
    random_basic = st.tuples(mixed_case("basic"), st.one_of(
        st.binary(max_size=80).map(lambda raw: base64.b64encode(raw).decode()),
        st.tuples(junk_text(), junk_text()).map(
            lambda pair: base64.b64encode(f"{pair[0]}:{pair[1]}".encode("utf-8", "surrogatepass")).decode()),
        junk_text(),
    )).map(lambda pair: f"{pair[0]} {pair[1]}")
    wrong_token = st.one_of(
        person.flatmap(lambda p: mutated(p.token)),
        st.text(alphabet=ALPHABET, min_size=RANDOM_LENGTH, max_size=RANDOM_LENGTH).map(well_formed_key),
        # A key that shares all but its last random characters with a real one, checksum fixed up.
        person.flatmap(lambda p: st.text(alphabet=ALPHABET, min_size=1, max_size=4).map(
            lambda tail: well_formed_key(p.token[len(PREFIX):len(PREFIX) + RANDOM_LENGTH - len(tail)] + tail))
        ).filter(lambda key: all(key != q.token for q in people)),
        junk_text(),
    ).flatmap(lambda key: mixed_case("token").map(lambda kw: f"{kw} {key}"))
    wrong_bearer = st.one_of(person.flatmap(lambda p: mutated(p.bearer)), junk_text()).flatmap(
        lambda tok: mixed_case("bearer").map(lambda kw: f"{kw} {tok}"))
    anything = st.tuples(st.sampled_from(KEYWORDS), junk_text()).map(lambda pair: f"{pair[0]} {pair[1]}".lstrip(" "))
    enormous = st.tuples(st.sampled_from(["Basic ", "Token ", "Bearer ", ""]), huge(junk_text(4))).map("".join)
    return st.one_of(
        good_basic, good_token, good_bearer, *([st.sampled_from(deactivated)] if deactivated else []),
        owned(st.one_of(wrong_password, other_password, random_basic, wrong_token, tab_token, wrong_bearer, anything,
                        enormous, junk_text(200)), st.just(nobody)),
    )


def cookie_values(people: Sequence[Person], former: Sequence[Person] = ()
                  ) -> st.SearchStrategy[tuple[str, frozenset[str]]]:
    """``(Cookie header, owners)``: real session ids, mutated and made-up ones, garbage; ``former``
    people's sessions name nobody."""
    person = st.sampled_from(list(people))
    nobody: frozenset[str] = frozenset()
    deactivated = [(p.headers("session")["Cookie"], nobody) for p in former]
    good = person.map(lambda p: (f"authhub_session={p.session_id}", frozenset({p.username})))
    among = st.tuples(person, junk_text(20)).map(
        lambda pair: (f"a=1; authhub_session={pair[0].session_id}; b={pair[1]}", frozenset({pair[0].username})))
    wrong = st.one_of(
        person.flatmap(lambda p: mutated(p.session_id)),
        st.text(alphabet=ALPHABET + "-_", min_size=43, max_size=43),
        junk_text(),
        huge(junk_text(3)),
    ).map(lambda value: (f"authhub_session={value}", nobody))
    garbage = junk_text(120).map(lambda text: (text, nobody))
    quoted = person.map(lambda p: (f'authhub_session="{p.session_id}"', frozenset({p.username})))
    return st.one_of(good, among, wrong, garbage, quoted, *([st.sampled_from(deactivated)] if deactivated else []))


def form_bodies(people: Sequence[Person]) -> st.SearchStrategy[bytes]:
    person = st.sampled_from(list(people))
    return st.one_of(
        st.binary(max_size=300),
        person.map(lambda p: f"csrf_token={p.csrf}".encode()),
        st.tuples(junk_text(40), junk_text(40)).map(
            lambda pair: f"csrf_token={pair[0]}&{pair[1]}".encode("utf-8", "surrogatepass")),
    )


@st.composite
def hostile_requests(draw: st.DrawFn, world: World) -> Hostile:
    """A request with any mix of Authorization headers (none, one, repeated), cookies, a form body."""
    people, former = list(world.people.values()), list(world.former.values())
    request = Hostile((), frozenset(), draw(st.sampled_from(["GET", "GET", "POST", "DELETE"])))
    for value, owners in draw(st.lists(authorization_values(people, former), max_size=3)):
        request = request.with_(Hostile((("Authorization", value),), owners))
    for value, owners in draw(st.lists(cookie_values(people, former), max_size=2)):
        request = request.with_(Hostile((("Cookie", value),), owners))
    if draw(st.booleans()):
        request = request.with_(Hostile((("X-CSRF-Token", draw(st.one_of(
            st.sampled_from([p.csrf for p in people]), junk_text())),),)))
    if request.method != "GET" and draw(st.booleans()):
        content_type = draw(st.sampled_from(["application/x-www-form-urlencoded",
                                             "application/x-www-form-urlencoded; charset=latin-1",
                                             "multipart/form-data; boundary=x", "text/plain"]))
        request = Hostile((*request.headers, ("Content-Type", content_type)), request.owners, request.method,
                          draw(form_bodies(people)))
    return request
