"""A model's environments side by side (issue 22): per environment, in promotion order, the model's name
there, its @champion and latest version, where the champion was copied from (lineage tags), and how many
versions the previous environment has that are newer than what this one last received."""

from __future__ import annotations

from typing import Any

from mlopsadmin.lib.mlflow_errors import MlflowError, MlflowNotFound
from registry_ui.environments.config import environments
from registry_ui.environments.copy import FROM_TAGS, FROM_VERSION_TAG

CHAMPION = "champion"


def model_environments(base: str) -> list[dict[str, Any]]:
    """[{environment, kind, server, model, next, champion, latest, copied_from, received, behind, error}]
    for model `base` in every configured environment. `received`: the newest source version copied into
    it; `behind`: versions of the previous environment newer than `received` (None when unknown). An
    environment that cannot be read has `error` set and the rest None (other rows still shown)."""
    rows: list[dict[str, Any]] = []
    for env in environments():
        handle, name = env.handle(), env.model_name(base)
        row: dict[str, Any] = {
            "environment": env.name,
            "kind": env.kind,
            "server": handle.display_uri,
            "model": name,
            "next": env.next,
            "champion": None,
            "latest": None,
            "copied_from": "",
            "received": None,
            "behind": None,
            "error": "",
        }
        try:
            row["champion"] = handle.alias_version(name, CHAMPION)
            row["latest"] = handle.latest_version(name)
            received = handle.versions_with_tag(name, FROM_VERSION_TAG)
            if received:
                newest = max(received, key=lambda v: int(v["tags"][FROM_VERSION_TAG]))
                row["received"] = newest["tags"][FROM_VERSION_TAG]
            if row["champion"]:
                tags = handle.model_version(name, row["champion"])["tags"]
                if FROM_TAGS[0] in tags:
                    row["copied_from"] = f"{tags[FROM_TAGS[0]]} v{tags.get(FROM_VERSION_TAG, '?')}"
        except MlflowNotFound:
            pass
        except MlflowError as exc:
            row["error"] = str(exc)
        rows.append(row)
    by_name = {row["environment"]: row for row in rows}
    for row in rows:
        if row["next"] in by_name:
            target = by_name[row["next"]]
            if row["latest"] is not None and not target["error"]:
                target["behind"] = int(row["latest"]) - int(target["received"] or 0)
    return rows
