"""Run several `manage.py` commands the way the command line does, in one process (Django and MLflow are
imported once), and print one JSON record per command: exit code, what it wrote, and any exception that
escaped (what `manage.py` would have shown as a traceback).

Usage: python tests/configuration/run_commands.py '[["export_config", "-"], ["help"]]'
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback


def run(argv: list[str]) -> dict[str, object]:
    from django.core.management import ManagementUtility

    out, err = io.StringIO(), io.StringIO()
    code, escaped = 0, ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            ManagementUtility(["manage.py", *argv]).execute()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - what manage.py would print as a traceback
            escaped, code = traceback.format_exc(), 1
    return {"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "traceback": escaped}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")
    records = [run(argv) for argv in json.loads(sys.argv[1])]
    sys.stdout.write("RESULTS=" + json.dumps(records))


if __name__ == "__main__":
    main()
