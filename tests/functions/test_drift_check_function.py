"""The drift check function (functions/drift_check/app.py): the processing job it asks for, checked against
botocore's SageMaker model, and what it publishes for a check's report, against moto."""

from __future__ import annotations

import json

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator

from tests.functions.conftest import ACCOUNT, BUCKET, REGION, load_function, variables_the_stack_passes

SETTINGS = {
    "SCORING_NAME_PREFIX": "scoreline-scoring",
    "DRIFT_NAME_PREFIX": "scoreline-drift",
    "EXECUTION_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/scoreline-job",
    "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b8e2c4a-6d1f-4e3b-9a5c-7f2d4b6e8a0c",
    "INSTANCE_TYPE": "ml.m5.large",
    "INSTANCE_STORAGE": "false",
    "CHECK_CODE_URI": f"s3://cdk-assets-{ACCOUNT}-{REGION}/0123abcd.py",
    "DRIFT_URI": f"s3://{BUCKET}/scoring/drift/",
    "PSI_THRESHOLD": "0.2",
    "NULL_RATE_THRESHOLD": "0.1",
    "MIN_ROWS": "500",
    "METRIC_NAMESPACE": "Scoreline",
    "ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:scoreline-alerts",
    "SENT_ALERTS_URI": f"s3://{BUCKET}/scoring/alerts/",
}
JOB = "scoreline-scoring-v3-0123456789ab-r2"
TRANSFORM = {
    "TransformJobName": JOB,
    "TransformJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{JOB}",
    "TransformJobStatus": "Completed",
    "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/scoring/output/{JOB}/"},
}
PACKAGE = {"InferenceSpecification": {"Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/x:1"}]}}
REPORT = {
    "rows": 1000,
    "checked": True,
    "reason": "",
    "thresholds": {"psi": 0.2, "null_rate": 0.1, "min_rows": 500},
    "drifted": True,
    "drifted_features": ["MedInc"],
    "prediction_drifted": True,
    "features": {
        "MedInc": {"psi": 0.93, "ks": 0.31, "null_rate": 0.0, "baseline_null_rate": 0.0, "null_rate_change": 0.0},
        "HouseAge": {"psi": 0.01, "ks": 0.02, "null_rate": 0.0, "baseline_null_rate": 0.0, "null_rate_change": 0.0},
    },
    "prediction": {"psi": 0.4, "ks": 0.2, "null_rate": 0.0, "baseline_null_rate": 0.0, "null_rate_change": 0.0},
}


@pytest.fixture(scope="module")
def drift():
    return load_function("drift_check", "drift_check_app")


def test_the_function_reads_exactly_the_variables_its_stack_passes(drift):
    assert variables_the_stack_passes("drift_check") == drift.ENVIRONMENT  # its copy of scoreline/names.py's table
    assert set(drift.ENVIRONMENT.values()) == set(SETTINGS)


def test_the_processing_job_request_fits_the_sagemaker_api(drift):
    name = drift.drift_job_name(SETTINGS, JOB)
    request = drift.processing_job_request(SETTINGS, name, TRANSFORM, "s3://b/pipeline/x/drift_baseline.json", PACKAGE)
    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(request, model.operation_model("CreateProcessingJob").input_shape)
    assert not report.has_errors(), report.generate_report()
    assert name == "scoreline-drift-v3-0123456789ab-r2"
    assert request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == f"s3://{BUCKET}/scoring/drift/{JOB}"
    assert request["AppSpecification"]["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/code/0123abcd.py"]
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == SETTINGS["KMS_KEY_ARN"]


def test_an_instance_storage_type_gets_no_volume_key(drift):
    settings = {**SETTINGS, "INSTANCE_TYPE": "ml.m5d.large", "INSTANCE_STORAGE": "true"}
    request = drift.processing_job_request(settings, "scoreline-drift-x", TRANSFORM, "s3://b/k", PACKAGE)
    assert "VolumeKmsKeyId" not in request["ProcessingResources"]["ClusterConfig"]


def test_events_it_does_not_handle_fail_with_a_sentence(drift):
    with pytest.raises(drift.MalformedEvent, match="not a transform or processing job state change: 'Scheduled'"):
        drift.parse_event({"detail-type": "Scheduled", "detail": {}})
    with pytest.raises(drift.MalformedEvent, match="is not a scoring job"):
        drift.drift_job_name(SETTINGS, "someone-elses-job")


def test_a_drifted_report_gives_metrics_and_one_alert_naming_the_feature(drift, aws, monkeypatch):
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    s3, sns, sqs = (boto3.client(service, region_name=REGION) for service in ("s3", "sns", "sqs"))
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"scoring/drift/{JOB}/drift.json", Body=json.dumps(REPORT).encode())
    topic = sns.create_topic(Name="scoreline-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    event = {
        "detail-type": "SageMaker Processing Job State Change",
        "detail": {"ProcessingJobName": "scoreline-drift-v3-0123456789ab-r2", "ProcessingJobStatus": "Completed"},
    }

    first, second = drift.handler(event, None), drift.handler(event, None)  # EventBridge may deliver twice

    assert (first["action"], second["action"]) == ("drifted", "already_alerted")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    [alert] = [json.loads(message["Body"])["Message"] for message in messages]
    assert "MedInc PSI 0.930, KS 0.310" in alert and "the predictions PSI 0.400" in alert and "HouseAge" not in alert
    metrics = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="Scoreline", MetricName="PSI")
    features = sorted(m["Dimensions"][0]["Value"] for m in metrics["Metrics"])
    assert features == ["HouseAge", "MedInc", "prediction"]
