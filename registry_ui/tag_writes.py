"""Version tag writes whose outcome is read back from MLflow (issue 14: read-back is the truth).

A tag write that fails or times out may still have been applied (the answer was lost after MLflow committed
it, or it is applied later from the socket backlog). So a failed write is never recorded as "not applied" from
the exception alone: the version's tags are read back and the outcome is what MLflow shows. When MLflow cannot
be read back the outcome is unknown (None), and nothing more is sent blind. Used by the approval workflow and
the metadata tag editor; alias changes read their rollback tags back the same way (promotion/recording.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

from mlopsadmin.lib import mlflow_bounded as bounded
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_store

logger = logging.getLogger(__name__)

TagChanges = Mapping[str, str | None]  # key → the value wanted (None: the tag is deleted)


@dataclass(frozen=True)
class TagWrite:
    """What a write of tag changes ended with: `error` is the failed write's error (None when every write
    answered); `observed` the version's tags read back after a failure (None: not read, or unreadable)."""

    error: mlf.MlflowError | None = None
    observed: dict[str, str] | None = None

    @property
    def unknown(self) -> bool:
        """A write failed and MLflow could not be read back: nobody knows what it shows."""
        return self.error is not None and self.observed is None


class NotSent(mlf.MlflowUnavailable):
    """A write not sent: the action's deadline left no room for its timeout and the read-back after it."""


def action_deadline() -> bounded.Deadline:
    """The time budget of one tag-writing action (PROMOTION_DEADLINE_SECONDS, 40 s): shorter than the web
    worker's timeout (WEB_TIMEOUT_SECONDS, gunicorn --timeout), checked by mlopsadmin.E009."""
    return bounded.Deadline(float(settings.PROMOTION_DEADLINE_SECONDS))


def version_tags_read(model_name: str, version: str, deadline: bounded.Deadline | None = None) -> dict[str, str] | None:
    """The version's tags as MLflow shows them now (one request, at most the gateway's timeout or what is
    left of `deadline`, at least 1 s); None when MLflow cannot be read."""
    timeout = max(1.0, deadline.call_timeout()) if deadline else float(settings.MLFLOW_REQUEST_TIMEOUT)
    try:
        return bounded.get_model_version_tags(model_name, version, timeout=timeout)
    except mlf.MlflowError as exc:
        logger.warning("read-back of the tags of %s/%s failed: %s", model_name, version, exc)
        return None


def version_tags_write(
    model_name: str, version: str, changes: TagChanges, deadline: bounded.Deadline | None = None
) -> TagWrite:
    """Write `changes` in order (set, or delete for None), one request each without retries, within
    `deadline` (default: a new action_deadline()). A write is only sent when its full gateway timeout plus the
    read-back still fit; otherwise it is not sent (error NotSent). At the first failure (refused, timed out,
    answer lost, not sent) stop and read the version's tags back. MLflow errors are returned, never raised.
    What MLflow confirmed (every write answered) or showed (read back) goes to the registry index at once.
    Rule: issue 14, one deadline per action (a slow MLflow must not outlive the web worker)."""
    deadline = deadline or action_deadline()
    written = _write(model_name, version, changes, deadline)
    if written.error is None:
        index_store.version_tags_record(model_name, version, dict(changes))
    elif written.observed is not None:
        index_store.version_tags_record(model_name, version, dict(written.observed), replace=True)
    return written


def _write(model_name: str, version: str, changes: TagChanges, deadline: bounded.Deadline) -> TagWrite:
    timeout, reserve = float(settings.MLFLOW_REQUEST_TIMEOUT), readback_reserve()
    for key, value in changes.items():
        try:
            if deadline.remaining() < timeout + reserve:
                raise NotSent(
                    f"tag {key} not sent: the action's deadline ({deadline.seconds:g} s) is nearly spent, MLflow "
                    f"answered too slowly",
                    operation="set_model_version_tag",
                )
            if value is None:
                bounded.delete_model_version_tag(model_name, version, key, timeout=timeout)
            else:
                bounded.set_model_version_tag(model_name, version, key, value, timeout=timeout)
        except mlf.MlflowNotFound as exc:
            if value is not None:
                return TagWrite(error=exc, observed=version_tags_read(model_name, version, deadline))
            # deleting a tag that is not there: it is as wanted
        except mlf.MlflowError as exc:
            logger.warning("tag %s of %s/%s not confirmed: %s", key, model_name, version, exc)
            return TagWrite(error=exc, observed=version_tags_read(model_name, version, deadline))
    return TagWrite()


def readback_reserve() -> float:
    """Seconds kept free at the end of a deadline for reading the outcome back (as alias changes keep)."""
    return min(float(settings.MLFLOW_REQUEST_TIMEOUT), 5.0)


def differing(changes: TagChanges, observed: Mapping[str, str]) -> list[str]:
    """The keys of `changes` whose value MLflow does not show (in the order of `changes`)."""
    return [key for key, value in changes.items() if observed.get(key) != value]
