"""The one check of user-supplied registry identifiers and free text (pages, API and tasks share it).

- Model name: what MLflow's registry accepts (`mlflow.utils.validation._validate_model_name`: not blank,
  no "/" or ":", and not a name a path would resolve to another name: "." or starting with ".." —
  `path_not_unique`; a tab or a line break is accepted, so they are too), no NUL, at most 256 characters
  (MLflow's `registered_models.name` column; only a SQLite store holds longer ones, and mlopsadmin's own
  tables cannot: those are refused with that reason, never called unknown).
- Version: digits only (a leading "v" as in "v3" is tolerated), at most `MAX_VERSION`. MLflow keeps the
  version number in an SQL INTEGER column (`model_versions.version`), so no version above 2,147,483,647 can
  exist; asking PostgreSQL-backed MLflow for one fails with a server error instead of "not found".
"""

from __future__ import annotations

import posixpath
from typing import Any

from mlopsadmin.core.errors import InvalidInput

MAX_MODEL_NAME_LENGTH = 256
MAX_VERSION = 2**31 - 1  # MLflow's registry stores versions as SQL INTEGER (int32)
VERSION_PATTERN = r"^[0-9]{1,10}$"  # API schemas: the digits; `model_version` also checks the range


def text_field(value: Any, *, field: str, limit: int, required: bool = False) -> str:
    """`value` as stripped text; InvalidInput when it holds a NUL, is longer than `limit` characters, or is
    empty while `required`."""
    text = "" if value is None else str(value)
    if "\x00" in text:
        raise InvalidInput(f"{field} contains a NUL character.")
    text = text.strip()
    if len(text) > limit:
        raise InvalidInput(f"{field} is too long ({len(text)} characters, at most {limit}).")
    if required and not text:
        raise InvalidInput(f"{field} is required.")
    return text


def model_name(value: Any) -> str:
    """A registered model name MLflow accepts, unchanged; InvalidInput otherwise (blank, a NUL, too long,
    "/" or ":", "." or a leading ".."). Every place a model name is entered uses it: pages, API, admin,
    manage.py commands and the configuration file."""
    name = "" if value is None else str(value)
    if not name.strip():
        raise InvalidInput("Model name is required.")
    if "\x00" in name:
        raise InvalidInput("Model name contains a NUL character.")
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidInput(f"Model name is too long ({len(name)} characters, at most {MAX_MODEL_NAME_LENGTH}).")
    if "/" in name or ":" in name:
        raise InvalidInput(f"Not a valid registered model name: {name[:80]!r} (MLflow refuses '/' and ':').")
    normalised = posixpath.normpath(name)  # MLflow's path_not_unique
    if normalised != name or normalised == "." or normalised.startswith(".."):
        raise InvalidInput(
            f"Not a valid registered model name: {name[:80]!r} (MLflow refuses '.' and names starting with '..')."
        )
    return name


def model_name_problem(value: Any) -> str | None:
    """Why `value` is not a registered model name MLflow accepts (the message of `model_name`), or None."""
    try:
        model_name(value)
    except InvalidInput as exc:
        return str(exc)
    return None


def model_version(value: Any) -> str:
    """The canonical version number ("007" -> "7", "v3" -> "3"); InvalidInput unless it is a whole number
    from 0 to MAX_VERSION."""
    text = str("" if value is None else value).strip()
    digits = text[1:] if text[:1] in ("v", "V") else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 10 or int(digits) > MAX_VERSION:
        raise InvalidInput(f"Not a model version number: {text[:40]!r}.")
    return str(int(digits))
