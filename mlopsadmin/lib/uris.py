"""Credentials inside URIs (`scheme://user:password@host`): taken apart once, here. No Django import, so the
settings module can use it too."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit


def split_uri_credentials(uri: str) -> tuple[str, str, str]:
    """(uri without its user:password@ part, user, password). An unparseable URI comes back unchanged."""
    try:
        parts = urlsplit(uri)
        username, password, host, port = parts.username, parts.password, parts.hostname or "", parts.port
    except ValueError:
        return uri, "", ""
    if username is None and password is None:
        return uri, "", ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{port}" if port else host
    return urlunsplit(parts._replace(netloc=netloc)), unquote(username or ""), unquote(password or "")


UNPARSEABLE = "<unparseable URI>"


def without_credentials(uri: str) -> str:
    """A URI safe to show on a page, in a log line or as a stored key: `scheme://host[:port]/path` without
    its user:password@ part. An unparseable URI (bad port, broken IPv6 host) is shown as UNPARSEABLE, never as
    is (it may hold credentials). The one URI redactor of the product."""
    try:
        _ = urlsplit(uri).port  # a bad host or port raises here
    except ValueError:
        return UNPARSEABLE
    return split_uri_credentials(uri)[0]
