#!/usr/bin/env python
import os
import sys


def main() -> None:
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
