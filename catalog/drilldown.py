"""The catalog drill-down: one experiment's runs that miss a required tag, read live from MLflow page by page
(every one of them reachable: a cursor continues where a page stopped), each with what the cleanup's own
protection rule says about it (maintenance.cleanup.protection: the rule the plan and the execute re-check use)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from catalog.selectors import run_url
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.lib import mlflow_client as mlf


@dataclass(frozen=True)
class OffendingRun:
    run_id: str
    run_name: str
    owner: str
    missing: list[str]
    status: str
    url: str
    kept: str  # why a cleanup keeps the run ('' when nothing protects it)


@dataclass(frozen=True)
class OffendingPage:
    """One page of offending runs: `first` is the 1-based number of its first run; `after` the cursor of the
    next page ('' on the last)."""

    runs: list[OffendingRun]
    first: int
    after: str

    @property
    def last(self) -> int:
        return self.first + len(self.runs) - 1


def _cursor(value: str) -> tuple[int, int, str]:
    """(first run number, index in the MLflow page, MLflow page token) of a cursor 'first:index:token'."""
    if not value:
        return 1, 0, ""
    first, _, rest = value.partition(":")
    index, _, token = rest.partition(":")
    if not (first.isdigit() and index.isdigit() and int(first) >= 1 and len(value) <= 2000):
        raise InvalidInput("This page link is not valid any more: start from the first page.")
    return int(first), int(index), token


def offending_runs(experiment_id: str, required_tags: list[str], *, after: str = "", limit: int = 0) -> OffendingPage:
    """The runs of one experiment (live from MLflow, newest first) missing any required tag, `limit` (default
    CATALOG_DRILLDOWN_LIMIT) from the cursor `after`, each with the cleanup's verdict on it. Raises
    InvalidInput for a malformed cursor and MlflowError (MlflowInvalid for a stale page token)."""
    limit = limit or settings.CATALOG_DRILLDOWN_LIMIT
    first, index, token = _cursor(after)
    found: list[mlf.Run] = []
    missing: dict[str, list[str]] = {}
    while True:
        page, next_token = mlf.search_runs_page(
            [experiment_id], max_results=settings.CATALOG_SYNC_PAGE_SIZE, page_token=token or None
        )
        for position in range(index, len(page)):
            run = page[position]
            gaps = [tag for tag in required_tags if not run.tags.get(tag)]
            if not gaps:
                continue
            if len(found) == limit:
                return _page(experiment_id, found, missing, first, f"{first + limit}:{position}:{token}")
            found.append(run)
            missing[run.run_id] = gaps
        if not next_token:
            return _page(experiment_id, found, missing, first, "")
        token, index = next_token, 0


def _page(
    experiment_id: str, runs: list[mlf.Run], missing: dict[str, list[str]], first: int, after: str
) -> OffendingPage:
    from maintenance.cleanup.protection import cleanup_exclusions  # here: maintenance imports catalog.selectors

    kept = cleanup_exclusions(runs)
    return OffendingPage(
        runs=[
            OffendingRun(
                run_id=run.run_id,
                run_name=run.run_name,
                status=run.status,
                owner=run.tags.get("owner") or run.tags.get("mlflow.user") or "",
                missing=missing[run.run_id],
                url=run_url(experiment_id, run.run_id),
                kept=kept.get(run.run_id, ""),
            )
            for run in runs
        ],
        first=first,
        after=after,
    )
