"""Environments (dev → staging → prod) and the governed copy of a version to the next one (issue 22)."""
