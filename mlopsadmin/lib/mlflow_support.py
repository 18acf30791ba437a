"""Test and demo helpers around MLflow: NOT part of the gateway the product uses.

Tests, `manage.py seed_demo` and bench scripts log and load tiny real pyfunc models with these (the
product itself never logs or loads a model). Import as `from mlopsadmin.lib import mlflow_support`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from mlopsadmin.lib.mlflow_connection import tracking_uri, use_fluent_api
from mlopsadmin.lib.mlflow_errors import call

# isort: split
import mlflow  # after mlflow_connection set the timeouts
from mlflow.pyfunc import PythonModel


class ConstantScoreModel(PythonModel):
    """A tiny real pyfunc model: returns its configured score for every input row."""

    def __init__(self, score: float) -> None:
        self.score = score

    def predict(
        self, context: Any, model_input: list[list[float]], params: dict[str, Any] | None = None
    ) -> list[float]:
        return [self.score] * len(model_input)


def log_constant_model(run_id: str, *, score: float, name: str = "model") -> str:
    """Log a tiny pyfunc model into an existing run; returns the model URI to register."""

    def log() -> str:
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(name=name, python_model=ConstantScoreModel(score), pip_requirements=[])
        return str(info.model_uri)

    use_fluent_api()
    return call("log_model", log)


def load_pyfunc(model_uri: str) -> Any:
    """Load a logged or registered model (`models:/name@alias`, `runs:/…`) as a pyfunc model."""
    use_fluent_api()
    return call("load_model", mlflow.pyfunc.load_model, model_uri)


_RESUME_AND_DIE = """
import json, os, sys
import mlflow
mlflow.start_run(run_id=sys.argv[1])
for key, value, timestamp, step in json.loads(sys.argv[2]):
    mlflow.log_metric(key, value, step=step, timestamp=timestamp)
os._exit(9)
"""


def resume_and_die(run_id: str, *, metrics: list[tuple[str, float, int, int]] | None = None) -> None:
    """What a resumed training script that crashes does to a run: a separate Python process calls
    `mlflow.start_run(run_id=…)` on it, logs `metrics` ((key, value, timestamp ms, step)) and dies without
    `end_run` (os._exit: no atexit). MLflow then leaves the run RUNNING with its old end_time
    (../shared/MLFLOW-NOTES.md). Raises RuntimeError when the process did not get as far as dying."""
    _python(_RESUME_AND_DIE, [run_id, json.dumps(metrics or [])], expect=9, what=f"resuming {run_id}")


def _python(script: str, args: list[str], *, expect: int, what: str) -> None:
    """Run `script` in a separate Python process against this tracking server; RuntimeError naming `what`
    when it does not exit with `expect`."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri()}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != expect:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr[-2000:]}")


def create_logged_model(experiment_id: str, run_id: str, *, name: str = "checkpoint") -> str:
    """Create a LoggedModel (MLflow 3) whose source run is `run_id`, as `log_model` inside a run does; its
    creation time is the server's now. Returns the model id."""
    from mlopsadmin.lib.mlflow_connection import client

    model = call(
        "create_logged_model",
        client().create_logged_model,
        experiment_id=experiment_id,
        name=name,
        source_run_id=run_id,
    )
    return str(model.model_id)


_LOG_TRACE = """
import sys
import mlflow
from mlflow import MlflowClient
client = MlflowClient()
span = client.start_trace("agent-step", experiment_id=sys.argv[1], run_id=sys.argv[2])
client.end_trace(span.trace_id)
mlflow.flush_trace_async_logging()
"""


def log_trace(experiment_id: str, run_id: str) -> None:
    """What a GenAI run does instead of logging metrics: record one trace in the run (its `mlflow.sourceRun`
    metadata names the run; start time = now), from a separate Python process so this one keeps no tracing
    state. Raises RuntimeError when the trace was not recorded."""
    _python(_LOG_TRACE, [experiment_id, run_id], expect=0, what=f"recording a trace in {run_id}")
