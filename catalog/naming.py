"""The experiment naming convention as pure logic: parse, lint, suggest and build names.

No Django, no MLflow: a `Convention` (team prefixes, segment pattern, reserved words) in, plain
results out, so the rules are unit-tested on a table of names and re-evaluated without I/O.

The convention is `/{team-prefix}/{project}/{experiment-type}` (the operations guide's pattern);
team prefixes come from the core `Team` model (e.g. search → `/search-team`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DEFAULT_SEGMENT_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"  # lowercase kebab-case
DEFAULT_RESERVED_WORDS = ["test", "tmp", "temp", "scratch", "untitled", "default", "foo", "bar", "delete-me"]
DEFAULT_REQUIRED_TAGS = ["team", "owner", "git.commit", "data.version", "environment", "purpose"]
DEFAULT_EXPERIMENT_TYPE = "general"
TAG_KEY_RE = re.compile(r"^[\w.\-/: ]{1,250}$")  # MLflow's rule for tag names (runs, experiments, versions)

# Violation kinds (stable keys used in filters, the API and the CSV export).
FLAT = "flat"
LEADING_SLASH = "leading_slash"
UNKNOWN_PREFIX = "unknown_prefix"
SEGMENTS = "segments"
CHARACTERS = "characters"
MLFLOW_NAME_MAX = 256  # MLflow's experiments.name column (String(256)): a longer name fails on PostgreSQL/MySQL
RESERVED = "reserved"
VIOLATION_KINDS = {
    FLAT: "Flat name",
    LEADING_SLASH: "Missing leading slash",
    UNKNOWN_PREFIX: "Unknown team prefix",
    SEGMENTS: "Wrong number of segments",
    CHARACTERS: "Bad characters or casing",
    RESERVED: "Reserved word",
}


@dataclass(frozen=True)
class Convention:
    prefixes: Mapping[str, str]  # team key -> experiment prefix ('/search-team')
    segment_pattern: str = DEFAULT_SEGMENT_PATTERN
    reserved_words: tuple[str, ...] = tuple(DEFAULT_RESERVED_WORDS)

    @property
    def segment_re(self) -> re.Pattern[str]:
        return _compile(self.segment_pattern)


_compiled: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    if pattern not in _compiled:
        _compiled[pattern] = re.compile(rf"^(?:{pattern})$")
    return _compiled[pattern]


def pattern_is_valid(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return bool(pattern.strip())


@dataclass(frozen=True)
class Violation:
    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class NameReport:
    name: str
    team: str | None  # team key when the prefix is known
    project: str
    experiment_type: str
    violations: list[Violation] = field(default_factory=list)
    suggested_name: str | None = None

    @property
    def compliant(self) -> bool:
        return not self.violations

    @property
    def kinds(self) -> list[str]:
        return sorted({v.kind for v in self.violations})


def _tokens(text: str) -> list[str]:
    """Lower-case ASCII words; accented letters keep their base letter ('prévision' → 'prevision')."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return [t for t in re.split(r"[^a-zA-Z0-9]+", _decamel(ascii_text).lower()) if t]


def _decamel(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text)


def slugify_segment(text: str, reserved: Iterable[str] = ()) -> str:
    """'QueryRanking' → 'query-ranking', 'johns_experiment' → 'johns-experiment'; '' when the whole
    segment is a reserved word ('tmp'), while 'default-prediction' keeps its 'default'."""
    slug = "-".join(_tokens(text))
    return "" if slug in {r.lower() for r in reserved} else slug


def _reserved_in(segment: str, reserved: tuple[str, ...]) -> list[str]:
    """Reserved words that are the WHOLE segment ('tmp', 'Default'): a word inside a segment
    ('default-prediction', 'tmp-sweep') is part of a real name, not a placeholder."""
    lowered, slug = segment.lower(), "-".join(_tokens(segment))
    return [w for w in reserved if w and w.lower() in (lowered, slug)]


def _known_prefix_segment(segment: str, convention: Convention) -> bool:
    return bool(segment) and any(segment == p.strip("/") for p in convention.prefixes.values() if p.strip("/"))


def lint_name(
    name: str, convention: Convention, *, team_hint: str | None = None, taken: Iterable[str] = (), suggest: bool = True
) -> NameReport:
    """Parse a name against the convention; every violation carries its reason.

    `team_hint` (e.g. the dominant `team` tag of the experiment's runs) and `taken` (names already in
    use) only affect the suggested name.
    """
    violations: list[Violation] = []
    stripped = name.strip()
    team: str | None = None
    prefix_segment = ""
    known_first = _known_prefix_segment(stripped.lstrip("/").split("/", 1)[0], convention)
    hierarchy = len([s for s in stripped.split("/") if s]) >= 2  # 'forecasting/capacity-forecast/sweep' too
    if (known_first or hierarchy) and not stripped.startswith("/"):  # judged as with the slash, plus this
        violations.append(
            Violation(LEADING_SLASH, f"No leading slash: the convention's names start with '/' ('/{stripped}').")
        )
        stripped = "/" + stripped
    if not stripped.startswith("/") or (stripped.count("/") < 2 and not known_first):
        violations.append(Violation(FLAT, "Flat name: no '/{team-prefix}/{project}/{experiment-type}' hierarchy."))
        rest = [s for s in stripped.split("/") if s]
    else:
        team, rest, prefix_segment = _split_prefix(stripped, convention)
        if team is None:
            known = ", ".join(sorted(convention.prefixes.values()))
            violations.append(Violation(UNKNOWN_PREFIX, f"Unknown team prefix '/{prefix_segment}'. Known: {known}."))
        if len(rest) != 2:
            violations.append(
                Violation(
                    SEGMENTS,
                    f"Expected 2 segments after the team prefix (project, experiment type), found {len(rest)}.",
                )
            )
        bad = [s for s in rest if not convention.segment_re.match(s)]
        if team is None and prefix_segment and not convention.segment_re.match(prefix_segment):
            bad.insert(0, prefix_segment)
        if bad or "" in rest or (team is None and not prefix_segment):
            shown = ", ".join(f"'{s}'" if s else "an empty segment" for s in bad) or "an empty segment"
            violations.append(Violation(CHARACTERS, f"Segments must match {convention.segment_pattern}: {shown}."))
    if len(name) > MLFLOW_NAME_MAX:
        violations.append(
            Violation(
                CHARACTERS,
                f"Too long: {len(name)} characters; MLflow's store keeps experiment names of "
                f"at most {MLFLOW_NAME_MAX}.",
            )
        )
    if name != name.strip():  # MLflow keeps the spaces: ' /a-team/x/y ' is another experiment than '/a-team/x/y'
        violations.append(Violation(CHARACTERS, "Leading or trailing whitespace is part of the name in MLflow."))
    reserved_hits = sorted({w for s in (rest or [stripped]) for w in _reserved_in(s, convention.reserved_words)})
    if reserved_hits:
        violations.append(Violation(RESERVED, f"Reserved word(s): {', '.join(reserved_hits)}."))
    project = rest[0] if team and len(rest) >= 1 else ""
    experiment_type = rest[1] if team and len(rest) >= 2 else ""
    report = NameReport(name=name, team=team, project=project, experiment_type=experiment_type, violations=violations)
    if violations and suggest:
        suggestion = suggest_name(
            stripped, convention, team=team, team_hint=team_hint, rest=rest, prefix_segment=prefix_segment, taken=taken
        )
        report = NameReport(
            name=report.name,
            team=team,
            project=report.project,
            experiment_type=report.experiment_type,
            violations=violations,
            suggested_name=suggestion,
        )
    return report


def _split_prefix(name: str, convention: Convention) -> tuple[str | None, list[str], str]:
    """(team key, segments after the prefix, first segment). Longest matching prefix wins."""
    best: tuple[str, str] | None = None
    for key, prefix in convention.prefixes.items():
        bare = prefix.rstrip("/")
        if bare and (name == bare or name.startswith(bare + "/")) and (best is None or len(bare) > len(best[1])):
            best = (key, bare)
    parts = name.split("/")[1:]
    if best is None:
        return None, [p for p in parts[1:]], parts[0]
    tail = name[len(best[1]) :]
    rest = tail[1:].split("/") if tail not in ("", "/") else []  # '/vision-team': the prefix alone
    return best[0], rest, best[1].lstrip("/")


def _team_from_segment(segment: str, convention: Convention) -> str | None:
    """An unknown prefix that names a team ('/recommendation/...') points at that team."""
    slug = slugify_segment(segment)
    for key, prefix in convention.prefixes.items():
        if slug in {key, slugify_segment(prefix)} or slug == f"{key}-team":
            return key
    return None


def suggest_name(
    name: str,
    convention: Convention,
    *,
    team: str | None,
    team_hint: str | None,
    rest: list[str],
    prefix_segment: str,
    taken: Iterable[str] = (),
) -> str | None:
    """A compliant name derived from the old one, or None when the team or project cannot be derived."""
    team = (
        team
        or (team_hint if team_hint in convention.prefixes else None)
        or (_team_from_segment(prefix_segment, convention) if prefix_segment else None)
    )
    if team is None:
        return None
    named = [s for s in rest if s.strip()]
    if named and _reserved_in(named[0], convention.reserved_words):
        return None  # the project itself is a placeholder ('/x-team/default/...'): no project to keep
    parts = [slugify_segment(s, convention.reserved_words) for s in rest]
    parts = [p for p in parts if p]
    if parts and _team_from_segment(parts[0], convention) == team:  # never '/x-team/x-team/...'
        parts = parts[1:]
    if not parts:
        return None
    project = parts[0]
    experiment_type = "-".join(parts[1:]) or DEFAULT_EXPERIMENT_TYPE
    candidate = build_name(convention.prefixes[team], project, experiment_type)
    taken_set = set(taken)
    base, number = candidate, 2
    while candidate in taken_set and candidate != name:
        candidate, number = f"{base}-{number}", number + 1
    if not lint_name(candidate, convention, suggest=False).compliant:
        return None
    return candidate


def build_name(prefix: str, project: str, experiment_type: str) -> str:
    return f"{prefix.rstrip('/')}/{project.strip('/')}/{experiment_type.strip('/')}"
