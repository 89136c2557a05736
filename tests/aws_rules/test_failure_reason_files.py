"""Rule: SageMaker returns the first 1 KB of a processing container's /opt/ml/output/message as the job's
ExitMessage ("Save and Access Metadata Information About Your Processing Job") and the first 1024 characters of a
training container's /opt/ml/output/failure as its FailureReason ("How Amazon SageMaker AI Processes Training
Output"). The processing steps tell their scripts to write there; the training scripts write the failure file next
to SM_OUTPUT_DATA_DIR (tests/container_code/test_models.py runs them)."""

from __future__ import annotations

import pytest

from tests.aws_rules.pipeline_definition import definition_and_variables
from tests.pipeline_definitions.definitions import nested_steps


@pytest.mark.parametrize("step_name", ["Preprocess", "Evaluate"])
def test_processing_scripts_write_their_failure_sentence_where_sagemaker_reads_it(app_templates, step_name):
    definition, _ = definition_and_variables(app_templates)
    arguments = nested_steps(definition)[step_name]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--message-file") + 1] == "/opt/ml/output/message"
