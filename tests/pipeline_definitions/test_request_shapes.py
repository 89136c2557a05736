"""Every step's request arguments, validated offline against botocore's SageMaker service model.

Pipeline expressions ({"Get": ...}, {"Std:Join": ...}, {"Std:JsonGet": ...}) are replaced by placeholder
values of the type the shape expects, so unknown fields, nulls and wrong types fail as the service would.
"""

import botocore.session
import pytest
from botocore.validate import ParamValidator

from tests.pipeline_definitions.definitions import FLAVOURS, steps_by_name

SERVICE = botocore.session.get_session().get_service_model("sagemaker")
EXPRESSIONS = {"Get", "Std:Join", "Std:JsonGet"}
PLACEHOLDER_BY_TYPE = {
    "string": "s3://bucket/expression",
    "integer": 1,
    "long": 1,
    "float": 0.5,
    "double": 0.5,
}
# (step name, operation, fields the pipeline service fills in at execution time)
STEPS = [
    ("Preprocess", "CreateProcessingJob", {"ProcessingJobName": "job"}),
    ("Train", "CreateTrainingJob", {"TrainingJobName": "job"}),
    ("Evaluate", "CreateProcessingJob", {"ProcessingJobName": "job"}),
    ("Register", "CreateModelPackage", {}),
]


def _resolve_expressions(value, shape):
    """Swap pipeline expressions for a value of `shape`'s type; recurse through structures and lists."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in EXPRESSIONS:
        return PLACEHOLDER_BY_TYPE[shape.type_name]
    if isinstance(value, dict) and shape.type_name == "structure":
        return {k: _resolve_expressions(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if isinstance(value, dict) and shape.type_name == "map":
        return {k: _resolve_expressions(v, shape.value) for k, v in value.items()}
    if isinstance(value, list) and shape.type_name == "list":
        return [_resolve_expressions(item, shape.member) for item in value]
    return value


def _validation_errors(arguments: dict, operation: str) -> str:
    shape = SERVICE.operation_model(operation).input_shape
    report = ParamValidator().validate(_resolve_expressions(arguments, shape), shape)
    return report.generate_report() if report.has_errors() else ""


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("step_name, operation, filled_at_run_time", STEPS)
def test_step_arguments_are_a_valid_request(flavour, step_name, operation, filled_at_run_time):
    arguments = {**steps_by_name(flavour)[step_name]["Arguments"], **filled_at_run_time}
    assert _validation_errors(arguments, operation) == ""


def test_validation_catches_what_the_service_would_reject():
    arguments = {**steps_by_name("sklearn")["Train"]["Arguments"], "TrainingJobName": "job"}
    assert "Unknown parameter" in _validation_errors({**arguments, "MlflowConfig": {"Oops": 1}}, "CreateTrainingJob")
    broken = {**arguments, "StoppingCondition": {"MaxRuntimeInSeconds": None}}
    assert "Invalid type" in _validation_errors(broken, "CreateTrainingJob")
