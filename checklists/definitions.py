"""Parse the checklist definitions kept in the code base (definitions/*.md).

Each file holds a `# Title`, a `<!-- kind: weekly; version: 1 -->` header, and `- [ ] text` items,
each followed by `<!-- key: <key>; probe: <name> -->`, `<!-- key: <key>; manual -->` or
`<!-- key: <key>; manual+probe: <name> -->`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from checklists.models import KINDS, MODE_AUTO, MODE_BOTH, MODE_MANUAL

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
HEADER_RE = re.compile(r"<!--\s*kind:\s*(?P<kind>[a-z]+)\s*;\s*version:\s*(?P<version>\d+)\s*-->")
ITEM_RE = re.compile(r"^- \[[ xX]\] (?P<text>.+?)\s*<!--\s*key:\s*(?P<key>[a-z0-9_]+)\s*;\s*(?P<meta>[^>]*?)\s*-->\s*$")
META_RE = re.compile(r"^(?P<mode>probe|manual\+probe|manual)(?:\s*:\s*(?P<probe>[a-z0-9_]+))?$")


@dataclass(frozen=True)
class ItemSpec:
    key: str
    text: str
    mode: str
    probe: str


@dataclass(frozen=True)
class DefinitionSpec:
    kind: str
    version: int
    title: str
    items: tuple[ItemSpec, ...]


class DefinitionFileError(ValueError):
    pass


def parse_definition(text: str, *, source: str = "<text>") -> DefinitionSpec:
    header = HEADER_RE.search(text)
    if not header or header["kind"] not in KINDS:
        raise DefinitionFileError(f"{source}: missing or unknown '<!-- kind: …; version: … -->' header")
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), header["kind"].title())
    items: list[ItemSpec] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("- ["):
            continue
        match = ITEM_RE.match(line)
        meta = META_RE.match(match["meta"]) if match else None
        if not match or not meta:
            raise DefinitionFileError(f"{source}:{number}: item without '<!-- key: …; probe|manual … -->'")
        mode = {"probe": MODE_AUTO, "manual": MODE_MANUAL, "manual+probe": MODE_BOTH}[meta["mode"]]
        probe = meta["probe"] or ""
        if mode != MODE_MANUAL and not probe:
            raise DefinitionFileError(f"{source}:{number}: '{meta['mode']}' needs a probe name")
        items.append(ItemSpec(key=match["key"], text=match["text"].strip(), mode=mode, probe=probe))
    keys = [i.key for i in items]
    if len(set(keys)) != len(keys):
        raise DefinitionFileError(f"{source}: duplicate item keys")
    if not items:
        raise DefinitionFileError(f"{source}: no items")
    return DefinitionSpec(kind=header["kind"], version=int(header["version"]), title=title, items=tuple(items))


def code_definitions() -> dict[str, DefinitionSpec]:
    specs = {}
    for path in sorted(DEFINITIONS_DIR.glob("*.md")):
        spec = parse_definition(path.read_text(encoding="utf-8"), source=path.name)
        specs[spec.kind] = spec
    return specs
