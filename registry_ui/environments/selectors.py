"""A model's environments side by side (issue 22): per environment, in promotion order, the model's name
there, its @champion and latest version, where the champion was copied from (lineage tags), and how many
versions the previous environment has that are newer than what this one last received."""

from __future__ import annotations

from typing import Any

from mlopsadmin import policy
from mlopsadmin.core.errors import NotFound
from mlopsadmin.lib.mlflow_errors import MlflowError, MlflowNotFound
from mlopsadmin.policy import Action
from registry_ui.environments import services
from registry_ui.environments.config import environment_of, environments, next_environment
from registry_ui.environments.copy import FROM_TAGS, FROM_VERSION_TAG, PROMOTION_EXPERIMENT, copies_in_target
from registry_ui.promotion.changes import model_team

CHAMPION = "champion"


def given_model_base(name: str) -> str:
    """The base name of a model a caller names as it is registered in any prefix environment ('dev.churn'
    for prefix 'dev.'; the longest matching prefix wins), as services.given_base reads it for a promotion:
    a base name that really starts with the prefix is kept when the doubled name exists. When MLflow cannot
    be read, `name` as given (the rows then say what cannot be read)."""
    matching = [e for e in environments() if e.kind == "prefix" and e.prefix and name.startswith(e.prefix)]
    if not matching:
        return name
    try:
        return services.given_base(max(matching, key=lambda e: len(e.prefix)), name)
    except MlflowError:
        return name


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


def promotion_preview(user: Any, name: str, version: str) -> dict[str, Any]:
    """What "Promote to <next environment>" on the page of `name` v`version` (default registry) will do:
    {source, target, base, version, source_model, target_model, target_server, target_latest, steps,
    gate (GateResult or None), gate_error, already (versions in the target that are copies of it),
    leftovers (what failed copies left there, cleanup.leftovers),
    approval (the newest request for the target or None),
    may_promote, may_request}. Raises NotFound when `name` belongs to no environment, InvalidInput when its
    environment is the end of its path."""
    from registry_ui.environments import approvals, cleanup, services

    found = environment_of(name)
    if found is None:
        raise NotFound(f"{name} belongs to no configured environment (configuration file, [environments]).")
    source, base = found
    target = next_environment(source)
    team, _ = model_team(base)
    src_handle, dst_handle = source.handle(), target.handle()
    preview: dict[str, Any] = {
        "source": source,
        "target": target,
        "base": base,
        "version": version,
        "source_model": source.model_name(base),
        "target_model": target.model_name(base),
        "target_server": dst_handle.display_uri,
        "target_latest": None,
        "gate": None,
        "gate_error": "",
        "already": [],
        "leftovers": [],
        "approval": approvals.target_approval(target, base, version),
        "may_promote": policy.can(user, Action.ENVIRONMENT_PROMOTE, team=team),
        "may_request": policy.can(user, Action.APPROVAL_REQUEST, team=team),
    }
    if src_handle.tracking_uri == dst_handle.tracking_uri:
        preview["steps"] = [
            f"copy {preview['source_model']} v{version} within this registry (copy_model_version) as a new "
            f"version of {preview['target_model']}, with its tags, description and lineage",
        ]
    else:
        preview["steps"] = [
            f"download the artifacts of {preview['source_model']} v{version} from {src_handle.display_uri}",
            f"upload them into a new run of experiment {PROMOTION_EXPERIMENT} on {dst_handle.display_uri}",
            f"register that run's model as a new version of {preview['target_model']} there, with the "
            "version's tags, description and lineage (source server, model, version, run)",
        ]
    preview["steps"].append(f"tag {preview['source_model']} v{version} with where it was copied to")
    try:
        preview["target_latest"] = dst_handle.latest_version(preview["target_model"])
        preview["gate"] = services.target_gate(source, target, base, version)
        failed = cleanup.failed_copy_ids(source, target, base, version)
        preview["already"] = copies_in_target(source, target, base, version, failed=failed)
        preview["leftovers"] = cleanup.leftovers(source, target, base, version) if failed else []
    except MlflowNotFound:
        preview["gate_error"] = f"{preview['source_model']} v{version} does not exist in {source.name}."
    except MlflowError as exc:
        preview["gate_error"] = f"The gate of {target.name} could not be evaluated: {exc}"
    return preview


def version_environment(name: str) -> dict[str, Any] | None:
    """For the version and model pages: {environment, base, next, story} of registered model `name` of
    the default registry, or None when no configured environment covers it. `story`: the model's moves
    across environments (history.model_story), oldest first."""
    from registry_ui.environments.history import model_story

    found = environment_of(name)
    if found is None:
        return None
    env, base = found
    return {"environment": env, "base": base, "next": env.next, "story": model_story(base)}
