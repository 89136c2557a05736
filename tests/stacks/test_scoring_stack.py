"""The scoring stack: function configuration from settings, triggers, dead letters, alerts."""

import json

from aws_cdk.assertions import Capture, Match, Template

from tests.synth_helpers import main_function, only, resources

APPROVAL_PATTERN = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
    "detail": {"ModelPackageGroupName": ["scoreline-models"], "ModelApprovalStatus": ["Approved", "Rejected"]},
}


def _scoring(templates: dict) -> Template:
    return Template.from_json(templates["ScorelineScoring"])


def test_approval_rule_matches_this_group_and_approved_or_rejected_only(templates):
    _scoring(templates).has_resource_properties("AWS::Events::Rule", {"EventPattern": Match.exact(APPROVAL_PATTERN)})


def test_approval_rule_retries_then_dead_letters(templates):
    function = Capture()
    _scoring(templates).has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": APPROVAL_PATTERN,
            "Targets": [
                {
                    "Arn": {"Fn::GetAtt": [function, "Arn"]},
                    "RetryPolicy": Match.exact({"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 3}),
                    "DeadLetterConfig": Match.any_value(),
                }
            ],
        },
    )
    assert function.as_string().startswith("ScoringFunction")


def test_schedule_uses_settings_cron_and_time_zone_and_passes_the_scheduled_time(tmp_path):
    from tests.synth_helpers import synth

    scoring = synth(tmp_path, schedule_expression="cron(30 4 ? * MON-FRI *)", schedule_time_zone="Europe/Paris")[
        "ScorelineScoring"
    ]
    schedule = only(scoring, "AWS::Scheduler::Schedule")["Properties"]
    assert schedule["ScheduleExpression"] == "cron(30 4 ? * MON-FRI *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    target = schedule["Target"]
    assert json.loads(target["Input"]) == {
        "trigger": "schedule",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert "DeadLetterConfig" in target


def test_queues_and_alert_topic_are_kms_encrypted(templates):
    scoring = _scoring(templates)
    scoring.resource_count_is("AWS::SQS::Queue", 2)
    for name in ("scoreline-scoring-dlq", "scoreline-scoring-failed-invocations"):
        scoring.has_resource_properties("AWS::SQS::Queue", {"QueueName": name, "KmsMasterKeyId": Match.any_value()})
    scoring.resource_count_is("AWS::SNS::Topic", 1)
    scoring.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_alert_email_subscribes_to_the_topic(tmp_path):
    from tests.synth_helpers import synth

    scoring = Template.from_json(synth(tmp_path, alert_email="ops@example.com")["ScorelineScoring"])
    scoring.resource_count_is("AWS::SNS::Subscription", 1)
    scoring.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


def test_function_configuration_comes_from_settings(tmp_path):
    from tests.synth_helpers import synth

    scoring = synth(
        tmp_path,
        transform_instance_type="ml.c5.2xlarge",
        transform_max_payload_mb=4,
        transform_input_filter="$[1:]",
    )["ScorelineScoring"]
    function = main_function(scoring)["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "app.handler"
    environment = function["Environment"]["Variables"]
    assert environment["TRANSFORM_INSTANCE_TYPE"] == "ml.c5.2xlarge"
    assert environment["MAX_PAYLOAD_MB"] == "4"
    assert environment["MAX_CONCURRENT_TRANSFORMS"] == "8"  # automatic: one per vCPU of ml.c5.2xlarge
    assert environment["INPUT_FILTER"] == "$[1:]"
    assert environment["MODEL_PACKAGE_GROUP_NAME"] == "scoreline-models"
    assert environment["NAME_PREFIX"] == "scoreline-scoring"
    assert "scoring/input/{date}/" in json.dumps(environment["SCORING_INPUT_URI"])


def test_function_may_only_touch_its_own_models_and_jobs(templates):
    scoring = templates["ScorelineScoring"]
    statements = []
    for policy in resources(scoring, "AWS::IAM::Policy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {s.get("Sid"): s for s in statements}
    own = json.dumps(by_sid["OwnModelsAndTransformJobs"]["Resource"])
    assert ":model/scoreline-scoring-*" in own and ":transform-job/scoreline-scoring-*" in own
    assert "sagemaker:StopTransformJob" in by_sid["OwnModelsAndTransformJobs"]["Action"]
    passing = by_sid["PassExecutionRoleToSageMaker"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert "ImportValue" in json.dumps(passing["Resource"])  # the execution role from the training stack


def test_failures_reach_the_alert_topic(templates):
    scoring = templates["ScorelineScoring"]
    topic = next(iter(resources(scoring, "AWS::SNS::Topic")))
    rules = resources(scoring, "AWS::Events::Rule").values()
    to_topic = [r["Properties"]["EventPattern"] for r in rules if {"Ref": topic} in _arns(r)]
    detail_types = sorted(p["detail-type"][0] for p in to_topic)
    assert detail_types == [
        "SageMaker Model Building Pipeline Execution Status Change",
        "SageMaker Transform Job State Change",
    ]
    alarms = resources(scoring, "AWS::CloudWatch::Alarm").values()
    assert {a["Properties"]["MetricName"] for a in alarms} == {"Errors", "ApproximateNumberOfMessagesVisible"}
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic}] for a in alarms)


def test_stack_outputs_name_the_alert_topic_and_the_dashboard(templates):
    scoring = _scoring(templates)
    [topic] = scoring.find_resources("AWS::SNS::Topic")
    [dashboard] = scoring.find_resources("AWS::CloudWatch::Dashboard")
    scoring.has_output("AlertTopicArn", {"Value": {"Ref": topic}})
    url = Capture()
    scoring.has_output("DashboardUrl", {"Value": {"Fn::Join": ["", url]}})
    assert url.as_array()[0] == "https://" and {"Ref": dashboard} in url.as_array()
    assert "#dashboards/dashboard/" in url.as_array()


def test_dashboard_shows_pipeline_scoring_function_and_dead_letters(templates):
    dashboard = only(templates["ScorelineScoring"], "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("Pipeline executions", "Scoring function", "dead-letter queue", "transform jobs"):
        assert title in body


def _approval_rule(scoring: dict) -> dict:
    rules = resources(scoring, "AWS::Events::Rule").values()
    return next(r for r in rules if "Model Package State Change" in json.dumps(r["Properties"]["EventPattern"]))


def _arns(rule: dict) -> list:
    return [target["Arn"] for target in rule["Properties"]["Targets"]]
