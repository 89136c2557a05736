"""Security checks on the synthesized app: cdk-nag, cfn-lint, checkov, IAM wildcards, the team's baseline aspect."""

import json
import os
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import cx_api

from stacks.security import apply_security_checks
from tests.conftest import REPO_ROOT
from tests.synth_helpers import resources

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
# Every checkov finding the app accepts, with its reason: (check id, stack, logical id prefix) -> reason.
# A finding not listed fails the test, and so does an entry no finding needs any more.
ACCEPTED_SCANNER_FINDINGS = {
    ("CKV_AWS_18", "ScorelineStorage", "AccessLogBucket"): (
        "The access-log bucket is where the data bucket's S3 server access logs go; logging its own access "
        "would need a third bucket and only move the question."
    ),
    ("CKV_AWS_117", "ScorelineScoring", "ScoringFunction"): (
        "The scoring function calls only AWS APIs (SageMaker, S3 ListBucket and its own alert records, SNS) over TLS "
        "with IAM and touches no data itself; a VPC would add NAT or endpoints for no gain."
    ),
    ("CKV_AWS_173", "ScorelineScoring", "ScoringFunction"): (
        "Its environment holds names, ARNs and settings, no secrets; Lambda encrypts it at rest with an AWS managed "
        "key."
    ),
    ("CKV_AWS_116", "ScorelineScoring", "ScoringFunction"): (
        "Failed asynchronous invocations go to an on-failure destination (EventInvokeConfig, issue 10 item 4); "
        "checkov only recognizes the older DeadLetterConfig."
    ),
    ("CKV_AWS_115", "ScorelineScoring", "ScoringFunction"): (
        "Reserved concurrency is optional (scoring_reserved_concurrency, off by default): any reservation makes "
        "stack creation fail in accounts whose concurrency quota is 10 (new accounts)."
    ),
    ("CKV_AWS_117", "ScorelineTraining", "TrainingDataFunction"): (
        "The pipeline's TrainingData function calls only AWS APIs (S3 ListBucket and PutObject of a manifest, "
        "SageMaker model registry reads) over TLS with IAM; a VPC would add NAT or endpoints for no gain."
    ),
    ("CKV_AWS_116", "ScorelineTraining", "TrainingDataFunction"): (
        "SageMaker Pipelines invokes the TrainingData function synchronously and fails the step on an error; a "
        "dead-letter queue applies to asynchronous invocations only."
    ),
    ("CKV_AWS_115", "ScorelineTraining", "TrainingDataFunction"): (
        "One invocation per pipeline execution; a reservation makes stack creation fail in accounts whose "
        "concurrency quota is 10 (new accounts), as for the scoring function."
    ),
    ("CKV_AWS_158", "ScorelineTraining", "TrainingDataFunctionLogs"): (
        "The TrainingData function's log group holds object counts, manifest keys and version ARNs, no data; "
        "CloudWatch Logs encrypts it at rest. A KMS key for it is hardening left for later."
    ),
    ("CKV_AWS_158", "ScorelineScoring", "ScoringFunctionLogs"): (
        "The function's log group holds its decisions (versions, job names, reasons), no data; CloudWatch Logs "
        "encrypts it at rest. A KMS key for it is hardening left for later."
    ),  # The drift check function (stacks/drift_check.py), for the same reasons as the scoring function's.
    ("CKV_AWS_117", "ScorelineScoring", "DriftCheckDriftCheckFunction"): (
        "The drift check function calls only AWS APIs (SageMaker CreateProcessingJob, S3 reads of drift reports and "
        "its alert records, CloudWatch metrics, SNS) over TLS with IAM; the rows are read by the processing job."
    ),
    ("CKV_AWS_173", "ScorelineScoring", "DriftCheckDriftCheckFunction"): (
        "Its environment holds names, ARNs, thresholds and settings, no secrets; Lambda encrypts it at rest."
    ),
    ("CKV_AWS_116", "ScorelineScoring", "DriftCheckDriftCheckFunction"): (
        "Failed asynchronous invocations go to the failed-invocations queue (EventInvokeConfig on-failure "
        "destination); checkov only recognizes the older DeadLetterConfig."
    ),
    ("CKV_AWS_115", "ScorelineScoring", "DriftCheckDriftCheckFunction"): (
        "One invocation per scoring job: reserved concurrency would only make stack creation fail in accounts whose "
        "concurrency quota is 10."
    ),
    ("CKV_AWS_158", "ScorelineScoring", "DriftCheckDriftCheckFunctionLogs"): (
        "The drift check function's log group holds its decisions (job names, drifted features, reasons), no data; "
        "CloudWatch Logs encrypts it at rest."
    ),
}

# The app with both training triggers on (tests/conftest.py TRAINING_TRIGGERS) adds the debounce function and its log
# group; the default app does not have them.
ACCEPTED_SCANNER_FINDINGS_WITH_TRAINING_TRIGGERS = {
    **ACCEPTED_SCANNER_FINDINGS,
    ("CKV_AWS_117", "ScorelineTraining", "RetrainingDebounceFunction"): (
        "The debounce function only calls EventBridge Scheduler (CreateSchedule/UpdateSchedule of one schedule) over "
        "TLS with IAM and touches no data; a VPC would add NAT or endpoints for no gain."
    ),
    ("CKV_AWS_173", "ScorelineTraining", "RetrainingDebounceFunction"): (
        "Its environment holds a schedule name, ARNs and the debounce seconds, no secrets; Lambda encrypts it at rest "
        "with an AWS managed key."
    ),
    ("CKV_AWS_116", "ScorelineTraining", "RetrainingDebounceFunction"): (
        "Failed asynchronous invocations go to an on-failure destination (EventInvokeConfig, the retraining "
        "dead-letter queue); checkov only recognizes the older DeadLetterConfig."
    ),
    ("CKV_AWS_115", "ScorelineTraining", "RetrainingDebounceFunction"): (
        "No reserved concurrency, like the scoring function: any reservation makes stack creation fail in accounts "
        "whose concurrency quota is 10, and concurrent invocations only move the same schedule."
    ),
    ("CKV_AWS_158", "ScorelineTraining", "RetrainingDebounceFunctionLogs"): (
        "The function's log group holds its decisions (object keys, the pipeline start time), no data; CloudWatch "
        "Logs encrypts it at rest. A KMS key for it is hardening left for later."
    ),
}

# The app with real-time predictions on (tests/conftest.py REALTIME) adds the serving stack.
ACCEPTED_SCANNER_FINDINGS_WITH_REALTIME = {
    **ACCEPTED_SCANNER_FINDINGS,
    ("CKV_AWS_117", "ScorelineServing", "ServingFunction"): (
        "The serving function calls only AWS APIs (SageMaker, CloudWatch alarms, Application Auto Scaling, SNS) over "
        "TLS with IAM and touches no data; a VPC would add NAT or endpoints for no gain."
    ),
    ("CKV_AWS_173", "ScorelineServing", "ServingFunction"): (
        "Its environment holds names, ARNs and settings, no secrets; Lambda encrypts it at rest with an AWS managed "
        "key."
    ),
    ("CKV_AWS_116", "ScorelineServing", "ServingFunction"): (
        "Failed asynchronous invocations go to an on-failure destination (EventInvokeConfig, the scoring stack's "
        "failed-invocations queue, which alarms); checkov only recognizes the older DeadLetterConfig."
    ),
    ("CKV_AWS_115", "ScorelineServing", "ServingFunction"): (
        "No reserved concurrency, like the scoring function: any reservation makes stack creation fail in accounts "
        "whose concurrency quota is 10; events are rare (approvals, endpoint state changes)."
    ),
    ("CKV_AWS_158", "ScorelineServing", "ServingFunctionLogs"): (
        "The function's log group holds its decisions (versions, configuration names, reasons), no data; "
        "CloudWatch Logs encrypts it at rest. A KMS key for it is hardening left for later."
    ),
    ("CKV_AWS_120", "ScorelineServing", "PredictionsApiDeploymentStage"): (
        "Predictions are POST requests whose answers depend on the body and on the version serving; a cache would "
        "serve a replaced model's answers."
    ),
    ("CKV_AWS_76", "ScorelineServing", "PredictionsApiDeploymentStage"): (
        "Access logs need the account's API Gateway CloudWatch role, which a fresh account lacks (creating the stage "
        "would fail): they are the opt-in realtime_access_logs (README, Real-time predictions)."
    ),
}

# Actions that have no resource-level permissions: the only ones allowed on Resource "*".
ACTIONS_WITHOUT_RESOURCES = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "sagemaker:ListModelPackages",
    "sagemaker:ListTransformJobs",
    "sagemaker:ListModels",
    "sagemaker:ListEndpointConfigs",
}


def _findings(assembly, level: cx_api.SynthesisMessageLevel) -> list[str]:
    return [
        f"{message.id}: {message.entry.data}"
        for stack in assembly.stacks
        for message in stack.messages
        if message.level == level
    ]


def test_no_unsuppressed_nag_errors_or_warnings(assembly):
    assert _findings(assembly, cx_api.SynthesisMessageLevel.ERROR) == []
    assert _findings(assembly, cx_api.SynthesisMessageLevel.WARNING) == []


def test_every_nag_suppression_sits_on_its_resource_with_a_reason(templates):
    for template in templates.values():
        for name, resource in template["Resources"].items():
            for suppression in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                assert len(suppression["reason"]) >= 30, f"{name}: {suppression['id']} needs a real reason"


def test_cfn_lint_finds_nothing(assembly):
    paths = [stack.template_full_path for stack in assembly.stacks]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), *paths], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _statements(templates):
    for template in templates.values():
        for name, policy in resources(template, "AWS::IAM::Policy").items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                yield name, statement


def test_no_statement_allows_every_action(templates):
    for name, statement in _statements(templates):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(action != "*" and not action.endswith(":*") for action in actions), name


def test_resource_star_only_for_actions_without_resource_level_permissions(templates):
    for name, statement in _statements(templates):
        if statement["Resource"] == "*" or "*" in (
            statement["Resource"] if isinstance(statement["Resource"], list) else []
        ):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, f"{name}: {json.dumps(statement)}"


@pytest.mark.parametrize(
    "make_resource, expected",
    [
        (lambda stack: s3.Bucket(stack, "Plain"), "Every bucket must be encrypted"),
        (lambda stack: sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.SQS_MANAGED), "Every queue"),
        (
            lambda stack: s3.Bucket(stack, "NoTls", encryption=s3.BucketEncryption.S3_MANAGED),
            "deny requests without TLS",
        ),
    ],
)
def test_baseline_aspect_rejects_resources_missing_the_baseline(tmp_path: Path, make_resource, expected):
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    make_resource(stack)
    apply_security_checks(app)
    errors = _findings(app.synth(), cx_api.SynthesisMessageLevel.ERROR)
    assert any(expected in error for error in errors), errors


def _checkov_failures(assembly) -> set[tuple[str, str, str]]:
    """(check id, stack, logical id) of every failed checkov check on the app's templates, offline."""
    assert CHECKOV.exists(), "checkov is not installed: run `make .venv-checkov/.installed` (make test does)"
    files = [arg for stack in assembly.stacks for arg in ("-f", stack.template_full_path)]
    result = subprocess.run(
        # In a network namespace with no interface: the scan cannot reach the network even if checkov tried.
        ["unshare", "--net", str(CHECKOV), "--framework", "cloudformation", *files, "-o", "json", "--compact"]
        + ["--skip-download"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"},
    )
    assert result.returncode in (0, 1), result.stderr  # 1: some check failed
    report = json.loads(result.stdout)
    failures = set()
    for failed in report["results"]["failed_checks"]:
        stack = Path(failed["file_path"]).name.removesuffix(".template.json")
        failures.add((failed["check_id"], stack, failed["resource"].split(".", 1)[1]))
    assert report["summary"]["passed"] > 50 and report["summary"]["parsing_errors"] == 0, report["summary"]
    return failures


def _accepted(failure: tuple[str, str, str], accepted: tuple[str, str, str]) -> bool:
    check, stack, logical_id = failure
    return (check, stack) == accepted[:2] and logical_id.startswith(accepted[2])


def _assert_only_accepted(failures: set[tuple[str, str, str]], accepted_findings: dict) -> None:
    unexpected = [f for f in failures if not any(_accepted(f, accepted) for accepted in accepted_findings)]
    assert unexpected == [], "fix these or accept them with a reason in ACCEPTED_SCANNER_FINDINGS"
    stale = [a for a in accepted_findings if not any(_accepted(f, a) for f in failures)]
    assert stale == [], "checkov no longer reports these: remove them from ACCEPTED_SCANNER_FINDINGS"


def test_policy_scanner_finds_only_the_accepted_findings(assembly):
    _assert_only_accepted(_checkov_failures(assembly), ACCEPTED_SCANNER_FINDINGS)


def test_policy_scanner_finds_only_the_accepted_findings_with_training_triggers(training_triggers_assembly):
    _assert_only_accepted(
        _checkov_failures(training_triggers_assembly), ACCEPTED_SCANNER_FINDINGS_WITH_TRAINING_TRIGGERS
    )


def test_no_unsuppressed_nag_errors_or_warnings_with_training_triggers(training_triggers_assembly):
    assert _findings(training_triggers_assembly, cx_api.SynthesisMessageLevel.ERROR) == []
    assert _findings(training_triggers_assembly, cx_api.SynthesisMessageLevel.WARNING) == []


def test_cfn_lint_finds_nothing_with_training_triggers(training_triggers_assembly):
    test_cfn_lint_finds_nothing(training_triggers_assembly)


@pytest.mark.slow  # 10 s of checkov; the stack tests check the serving stack's policies and API in the fast suite
def test_policy_scanner_finds_only_the_accepted_findings_with_realtime(realtime_assembly):
    _assert_only_accepted(_checkov_failures(realtime_assembly), ACCEPTED_SCANNER_FINDINGS_WITH_REALTIME)


def test_no_unsuppressed_nag_errors_or_warnings_with_realtime(realtime_assembly):
    assert _findings(realtime_assembly, cx_api.SynthesisMessageLevel.ERROR) == []
    assert _findings(realtime_assembly, cx_api.SynthesisMessageLevel.WARNING) == []


@pytest.mark.slow  # 6 s of cfn-lint
def test_cfn_lint_finds_nothing_with_realtime(realtime_assembly):
    test_cfn_lint_finds_nothing(realtime_assembly)
