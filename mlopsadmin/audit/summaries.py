"""One line per audit event, as a person reads it ("@champion v2 → v3, gate 4/4 passed"), and one per
operation ("cleanup executed: 27 runs deleted"). The full before/after stays on the event's page.

Actions with a shape of their own have a summarizer here; every other event is summarised from its
changed keys (empty containers are no news), else its reason, else its target: never an empty line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlopsadmin.audit.actions import ITEM_WORDS, OPERATION_FAMILIES, OPERATION_STARTS
from mlopsadmin.audit.diff import state_diff
from mlopsadmin.core.formatting import human_bytes, ms_datetime

MAX_TEXT = 40  # characters of one value in a summary
MAX_CHANGES = 2  # changed keys named in a generic summary


def _short(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(str(v) for v in value) or "–"
    elif value is None:
        text = "–"
    else:
        text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def changes_summary(before: Any, after: Any) -> str:
    """'status RUNNING → FAILED; name t-new' from the changed keys (MAX_CHANGES named, then '+N more')."""
    lines = [line for line in state_diff(before, after) if line.change != "same"]
    parts = []
    for line in lines[:MAX_CHANGES]:
        if line.change == "changed":
            parts.append(f"{line.path} {_short(line.before)} → {_short(line.after)}")
        elif line.change == "added":
            parts.append(f"{line.path} {_short(line.after)}")
        else:
            parts.append(f"{line.path} removed (was {_short(line.before)})")
    if len(lines) > MAX_CHANGES:
        parts.append(f"+{len(lines) - MAX_CHANGES} more")
    return "; ".join(parts)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _version(value: Any) -> str:
    return f"v{value}" if value not in (None, "") else "–"


def gate_summary(gate: Any) -> str:
    """'gate 4/4 passed' or 'gate 3/4 passed (failed: threshold)': the rules checked (not skipped)."""
    rules = [r for r in _dict(gate).get("rules") or [] if isinstance(r, dict) and r.get("status") != "skipped"]
    if not rules:
        return ""
    passed = [r for r in rules if r.get("status") == "pass"]
    failed = [str(r.get("rule")) for r in rules if r.get("status") == "fail"]
    text = f"gate {len(passed)}/{len(rules)} passed"
    return text + (f" (failed: {', '.join(failed)})" if failed else "")


def gate_rules(after: Any) -> list[dict[str, str]]:
    """The gate's rules of an alias-change event for a table: rule, status, message and its numbers
    rounded to 4 significant digits (the stored event keeps every digit); [] when it has no gate."""
    rules = _dict(_dict(after).get("gate")).get("rules") or []
    return [
        {
            "rule": str(r.get("rule", "")),
            "status": str(r.get("status", "")),
            "message": str(r.get("message", "")),
            "values": ", ".join(f"{k} {_short(v)}" for k, v in _dict(r.get("values")).items()),
        }
        for r in rules
        if isinstance(r, dict)
    ]


def _alias_change(event: Any) -> str:
    after = _dict(event.after)
    moves = [m for m in after.get("moves") or [] if isinstance(m, dict)]
    if moves:
        moves.sort(key=lambda m: m.get("alias") != "champion")  # the move the action is about first
        parts = [
            f"@{m.get('alias')} {_version(m.get('from_version'))} → {_version(m.get('to_version'))}" for m in moves
        ]
    elif after.get("planned"):
        parts = ["planned: " + "; ".join(str(p) for p in after["planned"])]
    else:
        parts = [_short(after.get("error")) if after.get("error") else "no alias moved"]
    gate = gate_summary(after.get("gate"))
    if gate:
        parts.insert(1, gate + (" — overridden" if after.get("gate_overridden") else ""))
    if after.get("not_applied"):
        parts.append(f"not applied: {'; '.join(str(s) for s in after['not_applied'])}")
    return ", ".join(parts[:2]) + ("; " + ", ".join(parts[2:]) if parts[2:] else "")


def _external_aliases(event: Any) -> str:
    before, after = _dict(_dict(event.before).get("aliases")), _dict(_dict(event.after).get("aliases"))
    moved = [
        f"@{alias} {_version(before.get(alias))} → {_version(after.get(alias))}"
        for alias in sorted(set(before) | set(after))
        if str(before.get(alias)) != str(after.get(alias))
    ]
    return (", ".join(moved) or "aliases unchanged") + " (outside mlopsadmin)"


def _model_version(event: Any) -> tuple[str, str]:
    model, _, version = str(event.target_id).rpartition("/")
    return (model, version) if model else (str(event.target_id), "")


def _approval(event: Any) -> str:
    model, version = _model_version(event)
    verb = {
        "approval.request": "approval requested for",
        "approval.approve": "approved",
        "approval.reject": "rejected",
        "approval.withdraw": "request withdrawn for",
        "approval.import": "approval imported for",
    }.get(event.action, event.action)
    return f"{verb} {model} {_version(version)}".strip()


def _run_delete(event: Any) -> str:
    before = _dict(event.before)
    was = f" (was {before['status']})" if before.get("status") else ""
    where = f" in experiment {before['experiment_id']}" if before.get("experiment_id") else ""
    word = {"run.delete": "deleted", "run.purge": "purged (hard-deleted)"}[event.action]
    return f"run {word}{where}{was}"


def _run_reap(event: Any) -> str:
    before, after = _dict(event.before), _dict(event.after)
    text = f"status {before.get('status', 'RUNNING')} → {after.get('status', 'FAILED')}"
    end = after.get("end_time")
    moment = ms_datetime(end) if isinstance(end, int | float) and not isinstance(end, bool) else None
    if moment:
        text += f", ended {moment:%Y-%m-%d %H:%M} UTC (last sign of life)"
    return text


def _run_restore(event: Any) -> str:
    where = _dict(event.after).get("experiment_id")
    return f"run restored (deleted → active){f' in experiment {where}' if where else ''}"


def _cleanup_restore(event: Any) -> str:
    before = _dict(event.before)
    return f"plan #{before.get('plan_id', '?')}: restore {before.get('deleted', '?')} deleted runs"


def _reap_listed(event: Any) -> str:
    after = _dict(event.after)
    return f"reap the {after.get('runs', '?')} runs dry run #{after.get('listed_from', '?')} listed"


def _config(event: Any) -> str:
    before, after = _dict(event.before), _dict(event.after)
    unit = after.get("unit") or before.get("unit") or event.target_id
    if event.action == "config.update":
        return f"{unit}: {changes_summary(before.get('value'), after.get('value')) or 'updated'}"
    return f"{unit} {'created' if event.action == 'config.create' else 'deleted'}"


def _cleanup_execute(event: Any) -> str:
    before, after = _dict(event.before), _dict(event.after)
    purge = ", then purge" if after.get("purge") else ""
    return f"plan #{after.get('plan_id', before.get('plan_id'))}: {before.get('candidates', '?')} candidates{purge}"


def _reaper_start(event: Any) -> str:
    after = _dict(event.after)
    mode = "dry run" if after.get("dry_run") else "reap"
    scope = f", experiment {after['experiment_id']}" if after.get("experiment_id") else ""
    return f"{mode}, threshold {_short(after.get('threshold_hours'))} h{scope}"


def _capacity_alert(event: Any) -> str:
    after = _dict(event.after)
    return (
        f"level {after.get('level')}: artifacts {human_bytes(after.get('artifact_bytes'))}, "
        f"database {human_bytes(after.get('database_bytes'))}"
    )


def _permissions(event: Any) -> str:
    before, after = _dict(event.before), _dict(event.after)
    planned = len(before.get("changes") or [])
    parts = [f"{len(after.get('applied') or [])} of {planned} changes applied"]
    if after.get("created_users"):
        parts.append(f"{len(after['created_users'])} users created")
    if after.get("failed"):
        parts.append(f"{len(after['failed'])} failed")
    if after.get("remaining_changes"):
        parts.append(f"{after['remaining_changes']} still to do")
    return ", ".join(parts)


SUMMARIZERS: dict[str, Callable[[Any], str]] = {
    "model.alias_external_change": _external_aliases,
    "run.delete": _run_delete,
    "run.purge": _run_delete,
    "run.reap": _run_reap,
    "run.restore": _run_restore,
    "cleanup.restore": _cleanup_restore,
    "reaper.reap_listed": _reap_listed,
    "cleanup.execute": _cleanup_execute,
    "reaper.start": _reaper_start,
    "capacity.alert": _capacity_alert,
    "mlflow_permissions.sync": _permissions,
}
FAMILY_SUMMARIZERS: dict[str, Callable[[Any], str]] = {"approval.": _approval, "config.": _config}
ALIAS_CHANGES = ("model.promote", "model.rollback", "model.alias_challenger", "model.alias_repair")


def event_summary(event: Any) -> str:
    """The event's line: its action's summarizer, else its changed keys, else its reason, else its target."""
    action = str(event.action)
    summarize = SUMMARIZERS.get(action) or FAMILY_SUMMARIZERS.get(action.split(".", 1)[0] + ".")
    if summarize is None and action.startswith(ALIAS_CHANGES):
        summarize = _alias_change
    text = summarize(event) if summarize else changes_summary(event.before, event.after)
    return text or _short(event.reason) or f"{event.target_kind} {event.target_id}".strip()


def _count(action: str, count: int) -> str:
    one, several = ITEM_WORDS.get(action, (f"× {action}", f"× {action}"))
    return f"{count} {one if count == 1 else several}"


def operation_summary(head: Any, counts: dict[str, int]) -> str:
    """'cleanup executed: 27 runs deleted, 27 runs purged' for an operation whose first event is `head`
    and whose items count `counts` ({action: events}). An operation started by one of its items
    (apply_config) counts that first event too."""
    counts = dict(counts)
    title = OPERATION_STARTS.get(head.action)
    if title is None:
        counts[head.action] = counts.get(head.action, 0) + 1
        title = OPERATION_FAMILIES.get(head.action.split(".", 1)[0] + ".", "operation")
    order = sorted(counts.items(), key=lambda item: list(ITEM_WORDS).index(item[0]) if item[0] in ITEM_WORDS else 99)
    return f"{title}: {', '.join(_count(action, n) for action, n in order)}"
