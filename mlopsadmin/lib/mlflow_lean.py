"""Import MLflow without the optional parts its store layer never uses: import this module before `mlflow`
(`from mlopsadmin.lib import mlflow_lean` then `# isort: split`), as the store modules of the gateway do
(mlflow_store, mlflow_purge, mlflow_bulk, mlflow_experiment_purge).

Why (issue 20, "worker RSS under 300 MB"): `import mlflow` loads pandas (mlflow.data), and pandas loads
pyarrow when it is installed (`pandas.compat.pyarrow`, an optional backend: `try: import pyarrow` / `except
ImportError`). pyarrow's shared libraries add ~65 MB to the process (measured: a worker with the backend store
configured peaked at 305 MB, 238 MB without pyarrow). Nothing mlopsadmin does through MLflow (the store's
sessions and models, artifact repositories, the tracking client) uses pandas' Arrow backend.

How: while `mlflow` is first imported, `sys.modules["pyarrow"]` is None — Python's documented way to make an
import raise ImportError — so pandas takes its no-pyarrow branch; the entry is removed right after, so a later
`import pyarrow` (an HDFS artifact repository, a test) loads it as usual. No MLflow or pandas code is patched.
If a future MLflow needs pyarrow while being imported, that ImportError is logged and MLflow is imported again
the ordinary way (with pyarrow): the process then costs more memory but works.
Limits: only the first import counts (MLflow already imported, or pyarrow already loaded: nothing changes); a
thread importing pyarrow during those seconds would get ImportError (nothing in mlopsadmin imports pyarrow).
"""

from __future__ import annotations

import logging
import sys

LEFT_OUT = ("pyarrow",)  # optional dependencies of MLflow's dependencies that the store layer never needs

log = logging.getLogger(__name__)


def import_mlflow() -> None:
    """Import `mlflow` (once per process) without the LEFT_OUT modules; a no-op when it is already imported.
    Raises what `import mlflow` raises, except an ImportError of a left-out module (then imported with it)."""
    if "mlflow" in sys.modules:
        return
    hidden = [name for name in LEFT_OUT if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None: `import name` raises ModuleNotFoundError
    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        if exc.name not in hidden:
            raise
        _restore(hidden)
        log.warning("MLflow needs %s at import: imported with it (more worker memory)", exc.name)
        import mlflow  # noqa: F401
    finally:
        _restore(hidden)


def _restore(hidden: list[str]) -> None:
    for name in hidden:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]


import_mlflow()
