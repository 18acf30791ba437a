"""The audit log: every state change is one append-only, hash-chained `AuditEvent`.

- `services.py`: `audit_record` (write one event), the keyed hash and `audit_verify_chain`;
- `checkpoint.py`: the chain's head kept outside the database; `export_verify.py`: offline export checks;
- `selectors.py`: filters, keyset pages, exports, diffs, object histories;
- `links.py`: links from an event to its target (app page, MLflow UI) and table rows;
- `views.py`, `urls.py`: the `/audit/` pages; `api.py`: `GET /api/v1/audit-events`.
The `AuditEvent` model itself lives in `mlopsadmin/core/models.py` (app label `core`).
"""
