"""The two-step cleanup of old runs: a plan (dry run) lists what would be deleted and why every other
run is kept; the operator executes the reviewed plan, optionally purging exactly those runs.

- protection.py: which runs are never deleted (the one place for that rule)
- sources.py: where planning lists runs from (backend store read-only, else the tracking API)
- plan.py: create and build a plan; execute.py: execute it, purge
"""
