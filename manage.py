#!/usr/bin/env python
import atexit
import gc
import os
import sys


def tune_collector() -> None:
    """Spare a short command the cyclic garbage collector's work on start-up's objects, about a third of
    `manage.py help`'s CPU time (bench/results/startup.md). Django's start-up creates ~56k container objects
    that live as long as the process: with the default thresholds (700, 10, 10) the collector runs 141 times
    while they are created (one a full scan), and at exit Python scans everything left several times more
    while it unloads the modules (~0.13 s of `help`'s ~0.45 s). A higher first threshold (still a young
    collection every 20,000 new objects, so a long command's garbage cycles are still freed: 24 collections,
    none full, during start-up) and freezing what is left at exit (its memory is the operating system's then;
    Python promises no finalizer for objects alive at exit) leave the collector for garbage.
    tests/configuration/test_startup_imports.py holds this."""
    gc.set_threshold(20_000, 10, 10)
    atexit.register(gc.freeze)  # atexit runs before the interpreter unloads modules


def main() -> None:
    tune_collector()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")
    from django.core.management import execute_from_command_line

    from mlopsadmin.settings_helpers import SettingError

    try:
        execute_from_command_line(sys.argv)
    except SettingError as exc:  # a variable that cannot be read: say which, without a traceback
        sys.stderr.write(f"Configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
