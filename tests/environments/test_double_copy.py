"""Issue 22: a version is copied into the next environment once. A second click, a retried CI job or two
jobs at the same moment are refused with 409 and leave exactly one copy in the target, also when the copy
runs longer than the promotion lock's TTL (PROMOTION_LOCK_TTL_SECONDS: the lock is renewed while it runs)."""

from __future__ import annotations

import functools
import threading
import time
import uuid

import pytest

from tests.faults import FaultProxy

from .helpers import configure, make_version, promote_noting, versions_on

pytestmark = pytest.mark.django_db(transaction=True)  # two copies in threads of their own


def _envs(dev_url: str, prod_url: str) -> dict[str, dict[str, object]]:
    return {
        "dev": {"kind": "server", "tracking_uri": dev_url, "next": "prod"},
        "prod": {"kind": "server", "tracking_uri": prod_url},
    }


def test_second_promotion_of_the_same_version_is_refused(dev_mlflow, mlflow, login) -> None:  # type: ignore[no-untyped-def]
    configure(_envs(dev_mlflow.url, mlflow))
    name = f"search-twice-{uuid.uuid4().hex[:8]}"
    version = make_version(dev_mlflow.url, name, score=0.2)
    url = f"/api/v1/environments/dev/models/{name}/promote"
    admin = login("admin")
    first = admin.post(url, data={"version": version}, content_type="application/json")
    assert first.status_code == 200, first.content
    again = admin.post(url, data={"version": version}, content_type="application/json")
    assert again.status_code == 409, again.content
    assert f"already in prod as {name} v1" in again.json()["detail"]
    assert [v["version"] for v in versions_on(mlflow, name)] == ["1"]


def test_a_version_number_written_with_leading_zeros_is_the_same_version(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, login, personas
) -> None:
    """A CI job that sends "01" (or "v1" to the service) names v1: it is refused as already copied, and an
    approval of v1 for the target counts for it (the version was compared as written, and copied twice)."""
    from registry_ui.environments import services
    from registry_ui.models import ApprovalRequest, ApprovalState

    configure(_envs(dev_mlflow.url, mlflow))
    name = f"search-zeros-{uuid.uuid4().hex[:8]}"
    version = make_version(dev_mlflow.url, name, score=0.2)
    url = f"/api/v1/environments/dev/models/{name}/promote"
    admin = login("admin")
    assert admin.post(url, data={"version": version}, content_type="application/json").status_code == 200
    for written in ("01", "001"):
        again = admin.post(url, data={"version": written}, content_type="application/json")
        assert again.status_code == 409, again.content
        assert f"{name} v1 is already in prod" in again.json()["detail"]
    assert [v["version"] for v in versions_on(mlflow, name)] == ["1"]

    approving = {"kind": "server", "tracking_uri": mlflow, "require_approval": True}
    configure(_envs(dev_mlflow.url, mlflow) | {"prod": approving})
    second = make_version(dev_mlflow.url, name, score=0.3)
    ApprovalRequest.objects.create(
        model_name=f"prod:{name}", version=second, requester=personas["admin"], state=ApprovalState.APPROVED
    )
    result = services.promote_to_next(actor=personas["admin"], source_env="dev", model=name, version=f"v0{second}")
    assert result.target_version == "2"
    assert sorted(v["version"] for v in versions_on(mlflow, name)) == ["1", "2"]


def test_two_promotions_at_once_make_one_copy(dev_mlflow, mlflow, personas) -> None:  # type: ignore[no-untyped-def]
    name = f"search-race-{uuid.uuid4().hex[:8]}"
    version = make_version(dev_mlflow.url, name, score=0.4)
    outcomes: list[str] = []

    promote = functools.partial(promote_noting, outcomes, personas["admin"], name, version)
    with FaultProxy(mlflow) as prod:
        prod.write_delay = 0.3  # each write into prod takes a while: the two copies overlap
        configure(_envs(dev_mlflow.url, prod.url))
        workers = [threading.Thread(target=promote) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    assert sorted(o.split(":")[0] for o in outcomes) == ["copied", "refused"], outcomes
    assert [v["version"] for v in versions_on(mlflow, name)] == ["1"]


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # the renewal thread's
@pytest.mark.parametrize("backend", ["redis", "lease"])
def test_a_copy_longer_than_the_lock_ttl_keeps_a_second_promotion_out(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, personas, settings, backend: str
) -> None:
    settings.PROMOTION_LOCK_TTL_SECONDS = 1
    if backend == "lease":
        settings.REDIS_URL = ""
    elif not settings.REDIS_URL:
        pytest.skip("REDIS_URL not set")
    name = f"slow-copy-{uuid.uuid4().hex[:8]}"
    version = make_version(dev_mlflow.url, name, score=0.5)
    outcomes: list[str] = []

    promote = functools.partial(promote_noting, outcomes, personas["admin"], name, version)
    with FaultProxy(mlflow) as prod:
        prod.write_delay = 0.4  # every write into prod is slow: the copy takes several lock TTLs
        configure(_envs(dev_mlflow.url, prod.url))
        first = threading.Thread(target=promote)
        first.start()
        while prod.writes < 2 and first.is_alive():  # the first copy is writing into prod ...
            time.sleep(0.05)
        time.sleep(1.5)  # ... for longer than the lock's TTL
        assert first.is_alive(), "the copy finished before the lock's TTL ran out: slow it down further"
        promote()
        first.join(timeout=120)
    assert sorted(o.split(":")[0] for o in outcomes) == ["copied", "refused"], outcomes
    assert [v["version"] for v in versions_on(mlflow, name)] == ["1"]
