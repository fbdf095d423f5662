"""The one reader of the ``Authorization`` header (RFC 9110 §11.4) that every scheme uses.

``Authorization: <auth-scheme> <token68>``: the auth-scheme is matched
case-insensitively, one or more spaces follow it, and the credentials are
one token. :func:`credentials` answers ``None`` when the header is absent
or names another scheme (the next scheme is tried), the token when it is
this scheme's, and raises :class:`MalformedCredentials` when it is this
scheme's header but unusable.
"""

from __future__ import annotations

from authhub.errors import AuthenticationFailed

#: The longest header read by default; a longer one of the scheme's kind is refused unread.
MAX_HEADER_SIZE = 8192


class MalformedCredentials(AuthenticationFailed):
    """An ``Authorization`` header of a scheme's kind that cannot be read.

    ``reason`` says what is wrong without repeating what was sent; a
    scheme that answers with its own error (RFC 6750's ``invalid_request``)
    catches this one and raises that.
    """

    def __init__(self, keyword: str, reason: str) -> None:
        super().__init__(f"Invalid {keyword} authorization header: {reason}.")
        self.keyword = keyword
        self.reason = reason


def credentials(header: str | None, keyword: str, max_size: int = MAX_HEADER_SIZE) -> str | None:
    """The token after ``keyword`` in ``header``; ``None`` when the header is absent or of another scheme.

    :param header: the ``Authorization`` value (:attr:`authhub.Request.authorization`).
    :param keyword: the auth-scheme, matched case-insensitively (``"Basic"``).
    :param max_size: the longest header of this scheme that is read.
    :raises MalformedCredentials: a header of this scheme with no token, more
        than one, a tab after the scheme, or longer than ``max_size``.
    """
    if header is None:
        return None
    header = header.strip(" \t")
    scheme, _, rest = header.partition(" ")
    if len(scheme) != len(keyword) or scheme.lower() != keyword.lower():
        if "\t" in scheme and scheme.partition("\t")[0].lower() == keyword.lower():
            raise MalformedCredentials(keyword, "the scheme must be followed by a space, not a tab")
        return None
    if len(header) > max_size:
        raise MalformedCredentials(keyword, f"longer than {max_size} characters")
    token = rest.lstrip(" ")
    if not token:
        raise MalformedCredentials(keyword, "no credentials provided")
    if " " in token or "\t" in token:
        raise MalformedCredentials(keyword, "the credentials must be a single token, without spaces")
    return token
