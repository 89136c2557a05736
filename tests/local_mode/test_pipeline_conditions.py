"""Local pipeline runs read conditions in the form the SageMaker SDK writes them."""

import os

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from sagemaker.core.workflow.conditions import ConditionEquals, ConditionIn, ConditionNot, ConditionOr  # noqa: E402

from local_mode.sagemaker.pipelines import PipelineRun, StepCache  # noqa: E402

EXECUTION = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc"


def _outcome(condition) -> bool:
    run = PipelineRun(EXECUTION, {"Parameters": [], "Steps": []}, [], StepCache())
    return run._condition(condition.to_request())


def test_not_or_and_in_as_the_sdk_writes_them():
    assert _outcome(ConditionNot(expression=ConditionEquals(left=1, right=2)))
    assert not _outcome(ConditionNot(expression=ConditionEquals(left=2, right=2)))
    assert _outcome(
        ConditionOr(conditions=[ConditionEquals(left=1, right=2), ConditionIn(value="b", in_values=["a", "b"])])
    )
    assert not _outcome(ConditionIn(value="c", in_values=["a", "b"]))
