"""Real-time predictions (setting `realtime`): the serving function that keeps an endpoint on the approved version,
the HTTPS API in front of the endpoint, and the endpoint's dashboard."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Aws, CfnCustomResource, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from scoreline.instance_types import has_instance_storage
from scoreline.model_servers import realtime_serving
from scoreline.names import SERVING, environment
from scoreline.settings import Settings
from stacks.alerts import FUNCTION_RETRY_ATTEMPTS, MAX_EVENT_AGE, AlertNames, BorrowedAlerts, lambda_target
from stacks.dashboards import console_url, logged_lines
from stacks.python_function import python_function
from stacks.sagemaker_events import approved_or_rejected, sagemaker_event
from stacks.security import data_key_for_sagemaker_resources, pass_role_to_sagemaker

FUNCTION_CODE = Path(__file__).resolve().parents[1] / "functions" / "serving"
VARIANT = "AllTraffic"

# The API's answers for what SageMaker Runtime InvokeEndpoint returns (SageMaker Runtime API: InvokeEndpoint errors),
# as integration responses, by these API Gateway rules:
# - IntegrationResponse selectionPattern: "For all other HTTP and AWS back ends, the HTTP status code is matched"; the
#   response without a pattern is the default, for any status no pattern matches. So the 200 response selects 2xx
#   only and the default is no 200. Which response wins when two patterns match is not documented: none overlap.
# - PutIntegrationResponse is addressed by .../integration/responses/{status_code}: one response per status code, so
#   answers that end in the same status share a response and its template tells them apart.
# - "Override your API's request and response parameters and status codes": $context.responseOverride.status.
# - "Variables for data transformations": $util has escapeJavaScript, parseJson, urlEncode, urlDecode, base64Encode
#   and base64Decode, no toJson; escapeJavaScript turns ' into \', not JSON, hence .replaceAll("\\'", "'").
# Conditions are written to hold in Velocity 1.7 and 2 alike (2 also takes "" for false): `!$m || $m == ""`.
# SageMaker Runtime's error shapes name their text Message (botocore: sagemaker-runtime service-2.json); message is
# read too (rest-json errors may spell it so; botocore's parser reads both).
READ_MESSAGE = """#set($m = $input.path('$.Message'))
#if(!$m || $m == "")
#set($m = $input.path('$.message'))
#end
"""
JSON_MESSAGE = """#set($m = $util.escapeJavaScript($m).replaceAll("\\\\'", "'"))
{"message": "$m"}"""
# 400, and any other 4xx without a response of its own. ValidationError: a payload over InvokeEndpoint's 6 MB, or no
# endpoint yet (nothing approved so far: 503). ThrottlingException is a 400 too (SageMaker "Common Errors"), sent with
# no text ({"message": null}: opensearch-project/ml-commons#2429) and its type only in a header, which a template
# cannot read: a 4xx without a message, or one saying it was throttled, is a 429 (back off and retry).
CLIENT_ERROR_TEMPLATE = (
    READ_MESSAGE
    + """#if(!$m || $m == "" || $m.matches('(?is).*(rate exceeded|throttl).*'))
#set($context.responseOverride.status = 429)
{"message": "the endpoint is busy: retry with backoff"}
#elseif($m.contains('not found'))
#set($context.responseOverride.status = 503)
{"message": "no model version is deployed yet: approve one"}
#else
"""
    + JSON_MESSAGE
    + "\n#end"
)
THROTTLED_TEMPLATE = '{"message": "the endpoint is busy: retry with backoff"}'
UNAVAILABLE_TEMPLATE = '{"message": "the endpoint is unavailable: retry later"}'
# The default: a ModelError (424) carries the container's own status and message (OriginalStatusCode,
# OriginalMessage): the features container names a bad row ("row N: ...") or content type, which is the caller's
# mistake (400); anything else from the model is the model's failure (502), and so is a status nothing else names.
# The features container's sentences for a caller's mistake begin like this (container_code/features/inference.py).
CALLER_MISTAKE = "(row [0-9]+: |unsupported content type|bad request: )"
MODEL_ERROR_TEMPLATE = (
    """#set($original = $input.path('$.OriginalMessage'))
#set($code = $input.path('$.OriginalStatusCode'))
#if($original && $original.matches('(?s).*CALLER_MISTAKE.*'))
#set($m = $original.replaceAll('(?s)^.*?(CALLER_MISTAKE[^\\n"]*).*$', '$1'))
#set($context.responseOverride.status = 400)
"""
    + JSON_MESSAGE
    + """
#elseif("$!code" != "")
{"message": "the model failed on this request; see the endpoint's logs"}
#else
{"message": "the endpoint gave an unexpected answer"}
#end"""
).replace("CALLER_MISTAKE", CALLER_MISTAKE)

SUCCESS = "2\\d{2}"
# InvokeEndpoint's status (the selection pattern; None: the default) -> the API's status and its body: a request
# SageMaker refuses is the caller's 400 (throttling a 429, no endpoint yet a 503); 429 stays 429; 5xx, 403 and 404
# are 503, never a 500; a ModelError (424) and anything unexpected are the default's 502 (a bad row's 400).
_ERROR_RESPONSES = (
    ("40[0-25-9]|41\\d|42[0-35-8]|4[3-9]\\d", "400", CLIENT_ERROR_TEMPLATE),  # every 4xx but 403, 404, 424, 429
    ("429", "429", THROTTLED_TEMPLATE),
    ("5\\d{2}|403|404", "503", UNAVAILABLE_TEMPLATE),
    (None, "502", MODEL_ERROR_TEMPLATE),
)


class ServingStack(Stack):
    """Approval or rejection -> serving function -> endpoint (blue/green, rollback, autoscaling); API -> endpoint."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        data_key: kms.IKey,
        execution_role: iam.IRole,
        alert_names: AlertNames,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._settings = settings
        project = settings.project_name
        self.endpoint_name = f"{project}-realtime"
        self.endpoint_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:endpoint/{self.endpoint_name}"
        self._alarm_names = settings.rollback_alarm_names
        # The scoring stack's alerts, by name: turning `realtime` off must leave the scoring stack free to update.
        # An event the rules cannot deliver waits in its dead-letter queue; an event the function failed on after
        # Lambda's two retries (it is idempotent: it compares the endpoint with what the registry asks) waits in its
        # failed-invocations queue. Both alarm.
        alerts = BorrowedAlerts(self, alert_names)
        self.function = self._serving_function(data_key, execution_role, alerts)
        rules = self._rules(alerts.dead_letter_queue)
        self._remove_run_time_resources_on_delete(rules)
        self.api = self._api()
        dashboard = self._dashboard()
        self._outputs(dashboard)

    # --- the serving function and its triggers ---------------------------------------------------------------

    def _serving_function(self, data_key: kms.IKey, execution_role: iam.IRole, alerts: BorrowedAlerts):
        settings = self._settings
        function = python_function(
            self,
            "ServingFunction",
            code_dir=FUNCTION_CODE,
            follow_symlinks=True,  # model_registry.py, shared with the other functions (functions/common)
            description="Keeps the real-time endpoint on the approved version, with blue/green rollouts",
            role_description="Scoreline serving function: its models, endpoint configurations, endpoint, alarms",
            timeout=Duration.minutes(1),
            memory_size=256,
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(alerts.failed_invocations_queue),
            environment=environment(
                SERVING,
                group=settings.model_package_group_name,
                execution_role_arn=execution_role.role_arn,
                name_prefix=settings.serving_name_prefix,
                endpoint_name=self.endpoint_name,
                kms_key_arn=data_key.key_arn,
                instance_type=settings.realtime_instance_type,
                instance_storage=str(has_instance_storage(settings.realtime_instance_type)).lower(),
                instance_count=str(settings.realtime_instance_count),
                # The containers' model-server workers and threads for the instance type (scoreline/model_servers.py).
                container_environments=json.dumps(realtime_serving(settings).container_environments(), sort_keys=True),
                min_instances=str(settings.realtime_min_instances),
                max_instances=str(settings.realtime_max_instances),
                invocations_per_instance=str(settings.realtime_invocations_per_instance),
                canary_percent=str(settings.realtime_canary_percent),
                baking_seconds=str(settings.realtime_baking_minutes * 60),
                latency_alarm_ms=str(settings.realtime_latency_alarm_ms),
                errors_alarm_name=self._alarm_names[0],
                latency_alarm_name=self._alarm_names[1],
                alert_topic_arn=alerts.topic.topic_arn,
            ),
        )
        for statement in self._function_statements(data_key, execution_role):
            function.add_to_role_policy(statement)
        alerts.grant_publish(function)
        NagSuppressions.add_resource_suppressions(
            function.role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": (
                        "Wildcards limited to this app's serving name prefix for models and endpoint "
                        "configurations, the versions of its model package group, its log group's streams and the "
                        "target-tracking alarms of its endpoint's variant (their ids are generated); "
                        "ListModelPackages and the Application Auto Scaling actions have no resource-level "
                        "permissions; KMS data-key actions on the alerts key only, from the topic and queue grants."
                    ),
                }
            ],
            apply_to_children=True,
        )
        return function

    def _function_statements(self, data_key: kms.IKey, execution_role: iam.IRole) -> list[iam.PolicyStatement]:
        settings = self._settings
        arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        prefix = settings.serving_name_prefix
        alarm_arns = [
            f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{name}" for name in self._alarm_names
        ]
        return [
            iam.PolicyStatement(
                sid="OwnModelsConfigurationsAndEndpoint",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:CreateEndpoint",
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[f"{arn}:model/{prefix}-*", f"{arn}:endpoint-config/{prefix}-*", self.endpoint_arn],
            ),
            iam.PolicyStatement(
                sid="ReadModelRegistry",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[f"{arn}:model-package/{settings.model_package_group_name}/*"],
            ),
            iam.PolicyStatement(
                sid="ListApprovedVersions",
                actions=["sagemaker:ListModelPackages"],
                resources=["*"],  # no resource-level permissions
            ),
            pass_role_to_sagemaker("PassExecutionRoleToSageMaker", execution_role),
            # CreateEndpointConfig with KmsKeyId: the caller needs kms:CreateGrant (for AWS resources only) and
            # kms:DescribeKey on the key (SageMaker: "KMS permissions for ... CreateEndpointConfig").
            *data_key_for_sagemaker_resources("GrantEndpointsTheDataKey", data_key, "DescribeTheDataKey"),
            # The rollback alarms point at each new fleet; UpdateEndpoint's caller needs cloudwatch:DescribeAlarms
            # on them ("Auto-Rollback Configuration and Monitoring").
            iam.PolicyStatement(
                sid="NewFleetRollbackAlarms",
                actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
                resources=alarm_arns,
            ),
            # A Failed endpoint takes DeleteEndpoint only (DescribeEndpoint EndpointStatus), and the stack's deletion
            # removes what the function created (_remove_run_time_resources_on_delete).
            iam.PolicyStatement(
                sid="DeleteWhatItCreated",
                actions=["sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel"],
                resources=[f"{arn}:model/{prefix}-*", f"{arn}:endpoint-config/{prefix}-*", self.endpoint_arn],
            ),
            iam.PolicyStatement(
                sid="ListWhatItCreated",
                actions=["sagemaker:ListEndpointConfigs", "sagemaker:ListModels"],
                resources=["*"],  # no resource-level permissions
            ),
            # Application Auto Scaling acts on the target with the caller's permissions too: for SageMaker endpoints
            # sagemaker:DescribeEndpoint, DescribeEndpointConfig (both above), UpdateEndpointWeightsAndCapacities and
            # cloudwatch:DescribeAlarms, PutMetricAlarm, DeleteAlarms ("Identity-based policy examples": "Permissions
            # required for API actions on target services and CloudWatch"). Target tracking names its alarms
            # TargetTracking-<resource id>-AlarmHigh/AlarmLow-<id>: this variant's only.
            iam.PolicyStatement(
                sid="ScaleTheEndpointVariant",
                actions=["sagemaker:UpdateEndpointWeightsAndCapacities"],
                resources=[self.endpoint_arn],
            ),
            iam.PolicyStatement(
                sid="TargetTrackingAlarmsOfTheVariant",
                actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
                resources=[
                    f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:"
                    f"TargetTracking-endpoint/{self.endpoint_name}/variant/{VARIANT}-*"
                ],
            ),
            # Target tracking on the variant ("Configure model auto scaling": the permissions the caller needs).
            iam.PolicyStatement(
                sid="AutoscaleTheEndpoint",
                actions=[
                    "application-autoscaling:RegisterScalableTarget",
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:DeregisterScalableTarget",
                ],
                # Scalable targets get their ARNs (with a generated id) at registration: name none in advance, and
                # keep to SageMaker variant counts with the service's condition keys.
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "application-autoscaling:service-namespace": "sagemaker",
                        "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
                    }
                },
            ),
            iam.PolicyStatement(
                sid="AutoscalingServiceLinkedRole",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[
                    f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/"
                    "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                ],
                conditions={"StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}},
            ),
        ]

    def _rules(self, dead_letter_queue: sqs.IQueue) -> list[events.Rule]:
        package_rule_name, endpoint_rule_name = self._settings.serving_rule_names
        package_rule = events.Rule(
            self,
            "PackageStateRule",
            rule_name=package_rule_name,
            description="A version of this app's model package group was approved or rejected: update the endpoint",
            event_pattern=approved_or_rejected(self._settings.model_package_group_name),
        )
        endpoint_rule = events.Rule(
            self,
            "EndpointStateRule",
            rule_name=endpoint_rule_name,
            description="The real-time endpoint changed state: continue or report a rollout",
            event_pattern=sagemaker_event("SageMaker Endpoint State Change", {"EndpointName": [self.endpoint_name]}),
        )
        for rule in (package_rule, endpoint_rule):
            rule.add_target(lambda_target(self.function, dead_letter_queue))
        return [package_rule, endpoint_rule]

    def _remove_run_time_resources_on_delete(self, rules: list[events.Rule]) -> None:
        """The endpoint, its configurations, models, alarms and scalable target are made by the function at run time,
        outside CloudFormation: the function is also this custom resource, whose Delete removes them, so `cdk
        destroy` leaves nothing billing (CloudFormation "Custom resources": ServiceToken, a Lambda function)."""
        resource = CfnCustomResource(self, "RunTimeResources", service_token=self.function.function_arn)
        # Deleted before the function's role and policy (it runs with them) and after the rules (no approval may
        # create an endpoint while it goes).
        resource.node.add_dependency(self.function.role)
        for rule in rules:
            rule.node.add_dependency(resource)

    # --- the API -------------------------------------------------------------------------------------------------

    def _api(self) -> apigateway.RestApi:
        settings = self._settings
        api = apigateway.RestApi(
            self,
            "PredictionsApi",
            rest_api_name=f"{settings.project_name}-predictions",
            description="Real-time predictions: raw rows in, one prediction per row out (IAM-signed requests)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,  # the account-wide role is the account's, not this app's (_access_logs)
            deploy_options=apigateway.StageOptions(
                stage_name="v1",
                throttling_rate_limit=settings.realtime_throttle_rate,
                throttling_burst_limit=settings.realtime_throttle_burst,
                **self._access_logs(),
                metrics_enabled=True,
                tracing_enabled=True,  # X-Ray: where a slow request spent its time (API Gateway or the endpoint)
            ),
        )
        predictions = api.root.add_resource("predictions")
        validator = api.add_request_validator("ContentTypeRequired", validate_request_parameters=True)
        predictions.add_method(
            "POST",
            self._invoke_endpoint_integration(),
            authorization_type=apigateway.AuthorizationType.IAM,
            request_validator=validator,
            request_parameters={"method.request.header.Content-Type": True},
            method_responses=[
                apigateway.MethodResponse(
                    status_code=code, response_parameters={"method.response.header.Content-Type": True}
                )
                for code in ("200", "400", "429", "502", "503")
            ],
        )
        self.invoke_policy = iam.ManagedPolicy(
            self,
            "InvokePredictionsPolicy",
            managed_policy_name=f"{settings.project_name}-invoke-predictions",
            description="Attach to the roles or users that may call the predictions API",
            statements=[
                iam.PolicyStatement(
                    sid="CallThePredictionsApi",
                    actions=["execute-api:Invoke"],
                    resources=[api.arn_for_execute_api("POST", "/predictions", "v1")],
                )
            ],
        )
        self._nag_api(api)
        return api

    def _invoke_endpoint_integration(self) -> apigateway.AwsIntegration:
        """API Gateway calls SageMaker Runtime InvokeEndpoint itself (an AWS service integration), no function."""
        role = iam.Role(
            self,
            "ApiInvokeEndpointRole",
            # API Gateway documents no aws:SourceArn/aws:SourceAccount for the roles its integrations assume (a
            # condition it does not send would refuse every request). The role is usable only through an API in
            # this account (iam:PassRole does not cross accounts) and may do one thing: invoke this endpoint.
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway: invoke the real-time endpoint",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTheEndpoint", actions=["sagemaker:InvokeEndpoint"], resources=[self.endpoint_arn]
            )
        )
        json_response = {"method.response.header.Content-Type": "'application/json'"}
        return apigateway.AwsIntegration(
            service="runtime.sagemaker",
            path=f"endpoints/{self.endpoint_name}/invocations",
            integration_http_method="POST",
            options=apigateway.IntegrationOptions(
                credentials_role=role,
                # Content types without a template are refused (415) before SageMaker is called.
                passthrough_behavior=apigateway.PassthroughBehavior.NEVER,
                request_parameters={
                    "integration.request.header.Content-Type": "method.request.header.Content-Type",
                    "integration.request.header.Accept": "'text/csv'",
                },
                request_templates={"text/csv": "$input.body", "application/json": "$input.body"},
                integration_responses=[
                    apigateway.IntegrationResponse(
                        selection_pattern=SUCCESS,
                        status_code="200",
                        response_parameters={
                            "method.response.header.Content-Type": "integration.response.header.Content-Type"
                        },
                    ),
                    *(
                        apigateway.IntegrationResponse(
                            selection_pattern=sagemaker_status,
                            status_code=api_status,
                            response_parameters=json_response,
                            response_templates={"application/json": template},
                        )
                        for sagemaker_status, api_status, template in _ERROR_RESPONSES
                    ),
                ],
            ),
        )

    def _access_logs(self) -> dict:
        """Stage access logging (setting realtime_access_logs). API Gateway writes any CloudWatch log (execution or
        access) with the account's CloudWatch role, one per account and Region ("Set up CloudWatch logging for REST
        APIs in API Gateway": permissions for CloudWatch logging); without it, creating the stage fails with
        "CloudWatch Logs role ARN must be set in account settings to enable logging". The app does not set that
        role: AWS::ApiGateway::Account would replace the account's existing one for every API in the Region."""
        if not self._settings.realtime_access_logs:
            return {}
        return {
            "access_log_destination": apigateway.LogGroupLogDestination(self._access_log_group()),
            "access_log_format": apigateway.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
        }

    def _access_log_group(self) -> logs.LogGroup:
        """Access logs, encrypted with their own key: CloudWatch Logs may use it for this log group only."""
        name = f"/aws/apigateway/{self._settings.project_name}-predictions"
        key = kms.Key(
            self,
            "AccessLogsKey",
            alias=f"alias/{self._settings.project_name}-realtime-logs",
            description="Encrypts the Scoreline predictions API's access logs",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_group_arn = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{name}"
        # CloudWatch Logs "Encrypt log data using AWS KMS": the logs service principal, bound by the encryption
        # context kms:EncryptionContext:aws:logs:arn to this log group.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsForTheAccessLogGroup",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
            )
        )
        return logs.LogGroup(
            self,
            "PredictionsApiAccessLogs",
            log_group_name=name,
            encryption_key=key,
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _nag_api(self, api: apigateway.RestApi) -> None:
        NagSuppressions.add_resource_suppressions(
            api,
            [
                {
                    "id": "AwsSolutions-APIG2",
                    "reason": (
                        "The method validates its required Content-Type header; the body is rows the features "
                        "container validates itself and answers with the bad row's number (mapped to a 400)."
                    ),
                },
                {
                    "id": "AwsSolutions-APIG3",
                    "reason": (
                        "Every request must be SigV4-signed by an IAM principal allowed to call it, and the stage "
                        "throttles; a WAF web ACL is left to teams that expose the API more widely."
                    ),
                },
                {
                    "id": "AwsSolutions-APIG6",
                    "reason": (
                        "Execution logging, like access logging, needs the account-wide API Gateway CloudWatch "
                        "role, which this app does not own; access logs are the opt-in realtime_access_logs."
                    ),
                },
                {
                    "id": "AwsSolutions-APIG1",
                    "reason": (
                        "Access logs need the account-wide API Gateway CloudWatch role, which a fresh account lacks: "
                        "opt in with realtime_access_logs=true once the account has it (README)."
                    ),
                },
                {
                    "id": "AwsSolutions-COG4",
                    "reason": "IAM (SigV4) authorization is the choice for service callers (README, Real-time).",
                },
            ],
            apply_to_children=True,
        )

    # --- dashboard and outputs -----------------------------------------------------------------------------------

    def _dashboard(self) -> cloudwatch.Dashboard:
        endpoint = {"EndpointName": self.endpoint_name, "VariantName": VARIANT}
        api = {"ApiName": f"{self._settings.project_name}-predictions", "Stage": "v1"}
        minute = Duration.minutes(1)

        def sagemaker(name: str, statistic: str, label: str | None = None) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=endpoint,
                statistic=statistic,
                period=minute,
                label=label,
            )

        def gateway(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway", metric_name=name, dimensions_map=api, statistic=statistic, period=minute
            )

        dashboard = cloudwatch.Dashboard(
            self, "RealtimeDashboard", dashboard_name=f"{self._settings.project_name}-realtime"
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Endpoint invocations", left=[sagemaker("Invocations", "Sum")], right=[gateway("Count", "Sum")]
            ),
            cloudwatch.GraphWidget(
                title="Endpoint latency (microseconds)",
                left=[
                    sagemaker("ModelLatency", "p50", "ModelLatency p50"),
                    sagemaker("ModelLatency", "p99", "ModelLatency p99"),
                    sagemaker("OverheadLatency", "p99", "OverheadLatency p99"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[
                    sagemaker("Invocation4XXErrors", "Sum"),
                    sagemaker("Invocation5XXErrors", "Sum"),
                    gateway("4XXError", "Sum"),
                    gateway("5XXError", "Sum"),
                ],
            ),
        )
        dashboard.add_widgets(
            logged_lines(
                "Serving decisions",
                self.function,
                "trigger, version, action, reason",
                where="filter ispresent(action)",
                limit=50,
                width=24,
            )
        )
        return dashboard

    def _outputs(self, dashboard: cloudwatch.Dashboard) -> None:
        CfnOutput(
            self,
            "PredictionsUrl",
            value=self.api.url_for_path("/predictions"),
            description="POST rows here (text/csv or application/json), signed with SigV4 (service execute-api)",
        )
        CfnOutput(
            self,
            "InvokePolicyArn",
            value=self.invoke_policy.managed_policy_arn,
            description="Managed policy to attach to the callers of the predictions API",
        )
        CfnOutput(self, "EndpointName", value=self.endpoint_name, description="The real-time SageMaker endpoint")
        CfnOutput(
            self,
            "RealtimeDashboardUrl",
            value=console_url(dashboard),
            description="CloudWatch dashboard: endpoint invocations, latency and errors",
        )
