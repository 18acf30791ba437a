"""Issue #14 case 9: the chain is keyed (HMAC, key outside the database), its head is checkpointed outside
the database, and an export verifies offline. The tampering is done as the table owner (direct SQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from mlopsadmin.audit.services import DIGEST_FIELDS, GENESIS_HASH, audit_verify_chain, digest_values
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import s3

from .conftest import record
from .test_audit_verify import tamper

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


class S3Checkpoint:
    """The checkpoint as an object on the test S3 server (tests/servers.py): read like the file, and the
    environment a separate process needs to reach it."""

    def __init__(self, uri: str, endpoint: str) -> None:
        self.uri = uri
        self.env = {"S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def read_text(self) -> str:
        text = s3.get_text(self.uri)
        assert text is not None, f"no checkpoint at {self.uri}"
        return text

    def unlink(self) -> None:
        bucket, key = s3.parse_s3_uri(self.uri)
        s3.client().delete_object(Bucket=bucket, Key=key.rstrip("/"))

    def __str__(self) -> str:
        return self.uri


@pytest.fixture(params=["file", "s3"])
def checkpoint_file(request, settings, tmp_path: Path) -> Path | S3Checkpoint:  # type: ignore[no-untyped-def]
    """AUDIT_CHECKPOINT_PATH as a file, and as s3://bucket/key on the test S3 server (moto)."""
    settings.AUDIT_CHECKPOINT_EVERY = 1
    if request.param == "file":
        settings.AUDIT_CHECKPOINT_PATH = str(tmp_path / "audit-head.json")
        return Path(settings.AUDIT_CHECKPOINT_PATH)
    endpoint = request.getfixturevalue("s3_settings")
    bucket = f"audit-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(bucket)
    settings.AUDIT_CHECKPOINT_PATH = f"s3://{bucket}/mlopsadmin/audit-head.json"
    return S3Checkpoint(settings.AUDIT_CHECKPOINT_PATH, endpoint)


def events(count: int) -> list[AuditEvent]:
    return [record(action=f"thing.step{i}", target_id=str(i), after={"n": i}) for i in range(count)]


def rewrite_unkeyed(start: AuditEvent, reason: str) -> None:
    """What a table owner without the key can do: change an event, then recompute every later hash with
    plain SHA-256 (chain version 1) so that all links match again."""
    rows = list(AuditEvent.objects.order_by("id").filter(id__gte=start.id))
    previous = AuditEvent.objects.filter(id__lt=start.id).order_by("-id").values_list("event_hash", flat=True).first()
    previous = previous or GENESIS_HASH
    for row in rows:
        values = {name: getattr(row, name) for name in DIGEST_FIELDS}
        values["prev_hash"] = previous
        if row.id == start.id:
            values["reason"] = reason
        new_hash = digest_values(values, 1)
        tamper(
            "UPDATE core_auditevent SET reason = %s, prev_hash = %s, event_hash = %s, chain_version = 1 WHERE id = %s",
            [values["reason"], previous, new_hash, row.id],
        )
        previous = new_hash


def test_new_events_are_hmac_keyed_and_need_the_key(settings) -> None:  # type: ignore[no-untyped-def]
    event = record()
    values = {name: getattr(event, name) for name in DIGEST_FIELDS}
    assert event.chain_version == 2 and event.event_hash != digest_values(values, 1)
    assert audit_verify_chain().ok
    settings.AUDIT_HMAC_KEY = "another-key"
    report = audit_verify_chain()
    assert not report.ok and report.first_break_id == event.id


def test_a_rewrite_with_unkeyed_hashes_is_detected(login) -> None:  # type: ignore[no-untyped-def]
    written = events(6)
    rewrite_unkeyed(written[3], "nothing happened here")
    report = login("auditor").get(reverse("audit:verify"), {"run": "1"}).context["report"]
    assert not report.ok and report.first_break_id == written[3].id
    with pytest.raises(CommandError, match=f"BROKEN at event {written[3].id}"):
        call_command("verify_audit")


def test_a_full_rewrite_from_the_first_event_is_detected_by_the_checkpoint(checkpoint_file) -> None:  # type: ignore[no-untyped-def]
    written = events(5)
    assert audit_verify_chain().ok  # moves the checkpoint to the head
    rewrite_unkeyed(AuditEvent.objects.order_by("id").first(), "rewritten")  # type: ignore[arg-type]
    report = audit_verify_chain()
    assert not report.ok and report.first_break_id == written[-1].id
    assert "does not match the checkpoint" in report.problem


def test_tail_deletion_is_detected(login, checkpoint_file, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        written = events(6)
    head = json.loads(checkpoint_file.read_text())
    assert (head["event_id"], head["event_hash"]) == (written[-1].id, written[-1].event_hash)
    tamper("DELETE FROM core_auditevent WHERE id >= %s", [written[4].id])
    # a later write does not move the checkpoint past the loss
    with django_capture_on_commit_callbacks(execute=True):
        record(action="after.deletion")
    assert json.loads(checkpoint_file.read_text())["event_id"] == written[-1].id
    response = login("auditor").get(reverse("audit:verify"), {"run": "1"})
    report = response.context["report"]
    assert not report.ok and f"chain shorter than checkpoint #{written[-1].id}" in report.problem
    assert 'data-ok="false"' in response.content.decode()
    with pytest.raises(CommandError, match="chain shorter than checkpoint") as error:
        call_command("verify_audit")
    assert error.value.returncode == 1


def test_truncation_is_detected_against_the_checkpoint(checkpoint_file) -> None:  # type: ignore[no-untyped-def]
    written = events(3)
    assert audit_verify_chain().ok and json.loads(checkpoint_file.read_text())["count"] == 3
    truncate = (
        "TRUNCATE core_auditevent CASCADE" if connection.vendor == "postgresql" else "DELETE FROM core_auditevent"
    )
    tamper(truncate, [])
    report = audit_verify_chain()
    assert not report.ok and report.checked == 0
    assert report.problem.startswith(f"chain shorter than checkpoint #{written[-1].id}")


def test_a_deleted_checkpoint_is_reported_never_recreated_over_a_shortened_chain(  # type: ignore[no-untyped-def]
    checkpoint_file, django_capture_on_commit_callbacks
) -> None:
    """Before: with the checkpoint deleted (file removed, S3 object deleted), verification read "none written
    yet", said "intact" over a chain whose newest events had been deleted, and wrote a new checkpoint at the
    shortened head, so the loss could never be found again."""
    written = events(5)
    assert audit_verify_chain().ok  # the checkpoint stands at the head
    tamper("DELETE FROM core_auditevent WHERE id >= %s", [written[3].id])
    checkpoint_file.unlink()
    report = audit_verify_chain()
    assert not report.ok and "is missing" in report.problem and f"#{written[-1].id}" in report.problem
    with django_capture_on_commit_callbacks(execute=True):
        record(action="after.deletion")  # a later write does not start a new checkpoint either
    with pytest.raises(CommandError, match="is missing"):
        call_command("verify_audit")
    call_command("verify_audit", "--new-checkpoint")  # the operator's decision, after investigating: audited
    assert AuditEvent.objects.filter(action="audit.checkpoint_new").count() == 1
    assert json.loads(checkpoint_file.read_text())["event_id"] == AuditEvent.objects.order_by("-id").first().id  # type: ignore[union-attr]
    assert audit_verify_chain().ok


def starts_event(line: str, event_id: int) -> bool:
    return line.startswith((f"{event_id},", f'{{"id": {event_id},'))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_verifies_offline_and_a_changed_line_is_found(
    login, checkpoint_file, tmp_path, settings, fmt
) -> None:  # type: ignore[no-untyped-def]
    client = login("auditor")
    written = events(4) + [record(actor="member_fraud", action="=cmd|x", reason="-1+1", after={"v": 1.5})]
    assert audit_verify_chain().ok
    text = b"".join(client.get(reverse(f"audit:export_{fmt}")).streaming_content).decode()
    export = tmp_path / f"audit.{fmt}"
    export.write_text(text)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/no_such_database",  # offline: no database at all
        "SECRET_KEY": "x" * 50,
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
        **getattr(checkpoint_file, "env", {}),  # an S3 checkpoint: where the offline verifier reads it
    }
    args = [sys.executable, "manage.py", "verify_audit_export", str(export), "--checkpoint", str(checkpoint_file)]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]
    assert f"{AuditEvent.objects.count()} events verified" in done.stdout

    victim = written[2]
    lines = text.splitlines(keepends=True)
    changed = [line.replace("thing.step2", "thing.stepX") if starts_event(line, victim.id) else line for line in lines]
    assert changed != lines
    export.write_text("".join(changed))
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and f"BROKEN at event {victim.id}" in done.stderr, done.stderr[-1500:]

    # the newest event left out: the file stops short of the checkpoint
    export.write_text("".join(line for line in lines if not starts_event(line, written[-1].id)))
    with pytest.raises(CommandError, match=f"chain shorter than checkpoint #{written[-1].id}"):
        call_command("verify_audit_export", str(export), "--checkpoint", str(checkpoint_file))


def test_start_up_checks_name_a_missing_key_and_checkpoint(settings) -> None:  # type: ignore[no-untyped-def]
    from django.core import checks

    settings.DEBUG, settings.AUDIT_HMAC_KEY, settings.AUDIT_CHECKPOINT_PATH = False, "", ""
    ids = {message.id for message in checks.run_checks()}
    assert {"mlopsadmin.E010", "mlopsadmin.W006"} <= ids
    settings.AUDIT_HMAC_KEY, settings.AUDIT_CHECKPOINT_PATH = "k" * 32, "/var/lib/audit/head.json"
    assert not {"mlopsadmin.E010", "mlopsadmin.W006"} & {message.id for message in checks.run_checks()}


def test_an_unreachable_s3_checkpoint_is_reported_never_taken_as_intact(  # type: ignore[no-untyped-def]
    settings, s3_settings, caplog, django_capture_on_commit_callbacks
) -> None:
    """S3 refusing or not answering: verification says it cannot read the checkpoint (not "intact"), and a
    change that committed is never failed by its checkpoint write (the failure is logged)."""
    settings.AUDIT_CHECKPOINT_EVERY = 1
    settings.AUDIT_CHECKPOINT_PATH = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/audit-head.json"
    with django_capture_on_commit_callbacks(execute=True):
        written = record(action="thing.happened")
    assert AuditEvent.objects.filter(pk=written.pk).exists()
    assert "cannot read the audit checkpoint" in caplog.text  # logged; the change itself stands
    report = audit_verify_chain()
    assert not report.ok and "cannot read the audit checkpoint" in report.problem
    settings.S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens: S3 down
    report = audit_verify_chain()
    assert not report.ok and "cannot read the audit checkpoint" in report.problem
