"""TEMPORARY re-export (issue #13): the audit log moved to `mlopsadmin/audit/services.py`. Deleted once
maintenance/ imports it from there."""

from mlopsadmin.audit.services import actor_label, audit_record

__all__ = ["actor_label", "audit_record"]
