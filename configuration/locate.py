"""Finding the line of a key in a TOML text, so a refused configuration names the line to fix.

tomllib gives values without positions; this walks the lines, tracking the current table header
(`[teams.search]`, `[[x]]`) and each `key = ...` (dotted keys too), and answers the first line of the
longest known prefix of a path."""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*\[\[?\s*(?P<key>[^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(r"""^\s*(?P<key>(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-.\s])+?)\s*=""")


def split_key(text: str) -> tuple[str, ...]:
    """'teams."a b".x' → ('teams', 'a b', 'x')."""
    parts: list[str] = []
    current, quote = "", ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return tuple(parts)


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Every table and key path of the text → the 1-based line where it first appears."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = False
            continue
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            table = split_key(header.group("key"))
            for i in range(1, len(table) + 1):
                lines.setdefault(table[:i], number)
            continue
        assign = _ASSIGN.match(line)
        if assign and not line.lstrip().startswith("#"):
            path = table + split_key(assign.group("key"))
            for i in range(len(table) + 1, len(path) + 1):
                lines.setdefault(path[:i], number)
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = True
    return lines


def line_of(lines: dict[tuple[str, ...], int], path: Sequence[object]) -> int:
    """The line of the longest prefix of `path` (list indexes are skipped) found in the text; 1 if none."""
    keys = tuple(str(p) for p in path if not isinstance(p, int))
    for end in range(len(keys), 0, -1):
        if keys[:end] in lines:
            return lines[keys[:end]]
    return 1
