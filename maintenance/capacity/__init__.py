"""The capacity check (check.py) and its warning/critical thresholds (thresholds.py)."""
