"""Model naming lint (pure: no database, no MLflow).

The operations guide: name models for the product (`fraud-detector`, `search-ranker`); version numbers
belong to the registry and algorithms to tags. A name is flagged, with the reason, when it carries a
version (`-v3`), a year (`2026`), an algorithm or framework word (`xgboost`, `lgbm`, `bert`…) or a
reserved word (`final`, `test`…). The word lists are data (registry_ui.models.NamingWord), passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_ALGORITHM_WORDS = (
    "xgboost",
    "xgb",
    "lgbm",
    "lightgbm",
    "catboost",
    "bert",
    "roberta",
    "distilbert",
    "gpt",
    "llama",
    "t5",
    "lstm",
    "gru",
    "rnn",
    "cnn",
    "transformer",
    "resnet",
    "vgg",
    "sklearn",
    "scikit",
    "pytorch",
    "torch",
    "tensorflow",
    "tf",
    "keras",
    "onnx",
    "svm",
    "knn",
    "kmeans",
    "randomforest",
    "rf",
    "logreg",
    "gbm",
    "gbdt",
)
DEFAULT_RESERVED_WORDS = ("final", "test", "tmp", "temp", "draft", "copy", "old", "new", "latest", "backup")

_TOKEN_SPLIT = re.compile(r"[-_./\s:]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_VERSION_TOKEN = re.compile(r"^v\d+(?:\.\d+)*$|^version\d*$")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_PRODUCT_STYLE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class NamingFinding:
    rule: str  # version, year, algorithm, reserved, style
    word: str
    reason: str


def tokens(name: str) -> list[str]:
    """'XGBoost_fraud-v3' → ['xgboost', 'fraud', 'v3'] (also splits camelCase)."""
    spaced = _CAMEL.sub("-", name or "")
    return [t.lower() for t in _TOKEN_SPLIT.split(spaced) if t]


def _word_hit(token: str, words: set[str]) -> str | None:
    if token in words:
        return token
    stripped = token.rstrip("0123456789")  # resnet50, t5 stays t5 via the exact match above
    return stripped if stripped and stripped != token and stripped in words else None


def lint_model_name(
    name: str,
    *,
    algorithm_words: Iterable[str] = DEFAULT_ALGORITHM_WORDS,
    reserved_words: Iterable[str] = DEFAULT_RESERVED_WORDS,
) -> list[NamingFinding]:
    """Every reason the name breaks the convention; an empty list means it is a good product name."""
    algorithms = {w.strip().lower() for w in algorithm_words if w.strip()}
    reserved = {w.strip().lower() for w in reserved_words if w.strip()}
    findings: list[NamingFinding] = []
    seen: set[tuple[str, str]] = set()

    def add(rule: str, word: str, reason: str) -> None:
        if (rule, word) not in seen:
            seen.add((rule, word))
            findings.append(NamingFinding(rule, word, reason))

    for token in tokens(name):
        if _VERSION_TOKEN.match(token):
            add("version", token, f"carries a version number ('{token}'): the registry numbers versions itself")
        for year in _YEAR.findall(token):
            add("year", year, f"carries a year ('{year}'): dates belong in version tags, not the name")
        hit = _word_hit(token, algorithms)
        if hit:
            add("algorithm", hit, f"names an algorithm or framework ('{hit}'): track it in a tag or description")
        hit = _word_hit(token, reserved)
        if hit:
            add("reserved", hit, f"contains '{hit}': not a product name, a state (use aliases and tags)")
    if name and not _PRODUCT_STYLE.match(name):
        add("style", name, "use lowercase words joined by hyphens, e.g. 'fraud-detector'")
    return findings
