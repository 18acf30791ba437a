"""TEMPORARY re-export (issue #13): redaction moved to `mlopsadmin/lib/redaction.py`. Deleted once
maintenance/ imports it from there."""

from mlopsadmin.lib.redaction import scrub

__all__ = ["scrub"]
