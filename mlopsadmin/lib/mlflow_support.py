"""Test and demo helpers around MLflow: NOT part of the gateway the product uses.

Tests, `manage.py seed_demo` and bench scripts log and load tiny real pyfunc models with these (the
product itself never logs or loads a model). Import as `from mlopsadmin.lib import mlflow_support`.
"""

from __future__ import annotations

from typing import Any

from mlopsadmin.lib.mlflow_connection import use_fluent_api
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
