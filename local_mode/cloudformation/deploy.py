"""`cdk deploy` against the local cloud: publish the file assets, then create the resources this app uses from
the synthesized templates, stack by stack, with intrinsic functions resolved.

IAM roles and their policies, topic and queue policies, Lambda permissions and key policies are deployed as AWS
stores them, because the local cloud evaluates them (local_mode/iam/evaluator.py). Resources local mode has no
behaviour for (dashboards, bucket policies, log groups' settings) are recorded as skipped. Every call is made as the
account's administrator (the `Clients` it is given), as CloudFormation acts for the user who deploys.

Custom resources backed by a function are recorded here and created once the functions run
(custom_resources.py); a stack's deletion is delete.py.

LIMITATIONS: no updates (each deploy starts from an empty account), no nested stacks; S3 bucket policies and bucket
encryption are not applied."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_mode.cloudformation.assembly import AssemblyError, Resolver, StackArtifact, deployment_order, read_assembly
from local_mode.model import Alarm, CustomResource, DeployedStack, Deployment, Function, Rule, Schedule, Target


def deploy(cdk_out: Path, account: str, clients) -> Deployment:
    """`clients` is the local cloud's `Clients`: the deploy signs as the administrator."""
    region = clients.region
    deployment = Deployment(account=account, region=region)
    exports: dict[str, str] = {}
    for stack in read_assembly(cdk_out):
        _publish_assets(stack, account, region, clients.client("s3"))
        resolver = Resolver(stack, account, region, exports)
        created = []
        for logical_id in deployment_order(stack.template):
            resource = stack.template["Resources"][logical_id]
            _create(deployment, stack, resolver, logical_id, resource, clients)
            created.append((logical_id, resource["Type"], resolver.refs[logical_id]))
        for output in stack.template.get("Outputs", {}).values():
            if "Export" in output:
                exports[resolver.resolve(output["Export"]["Name"])] = resolver.resolve(output["Value"])
        deployed = _deployed_stack(stack, resolver)
        deployed.resources = created
        deployed.imports = {resolver.resolve(name) for name in _imported_names(stack.template)}
        deployment.stacks.append(deployed)
    return deployment


def _imported_names(value: Any) -> list[Any]:
    if isinstance(value, dict):
        if set(value) == {"Fn::ImportValue"}:
            return [value["Fn::ImportValue"]]
        return [name for item in value.values() for name in _imported_names(item)]
    if isinstance(value, list):
        return [name for item in value for name in _imported_names(item)]
    return []


def _deployed_stack(stack: StackArtifact, resolver: Resolver) -> DeployedStack:
    outputs = []
    for key, output in stack.template.get("Outputs", {}).items():
        shown = {"OutputKey": key, "OutputValue": str(resolver.resolve(output["Value"]))}
        if "Description" in output:
            shown["Description"] = output["Description"]
        if "Export" in output:
            shown["ExportName"] = resolver.resolve(output["Export"]["Name"])
        outputs.append(shown)
    stack_id = resolver.resolve({"Ref": "AWS::StackId"})
    return DeployedStack(stack.name, stack_id, datetime.now(UTC), outputs)


def _publish_assets(stack: StackArtifact, account: str, region: str, s3) -> None:
    for asset in stack.assets:
        bucket = asset.bucket.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
        _ensure_bucket(s3, bucket)
        body = _zip(asset.source) if asset.packaging == "zip" else asset.source.read_bytes()
        s3.put_object(Bucket=bucket, Key=asset.key, Body=body)


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _ensure_bucket(s3, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)


def physical_name(stack: StackArtifact, logical_id: str, limit: int = 63) -> str:
    return f"{stack.name}-{logical_id}".lower()[:limit]


def _create(deployment: Deployment, stack: StackArtifact, resolver: Resolver, logical_id: str, resource: dict, clients):
    creator = _CREATORS.get("Custom::" if resource["Type"].startswith("Custom::") else resource["Type"])
    if creator is None:
        deployment.skipped[resource["Type"]] = deployment.skipped.get(resource["Type"], 0) + 1
        resolver.refs[logical_id] = physical_name(stack, logical_id)
        return
    properties = resolver.resolve(resource.get("Properties", {}))
    context = _Context(deployment, stack, logical_id, properties, clients)
    ref, attributes = creator(context)
    resolver.refs[logical_id] = ref
    resolver.attributes[logical_id] = attributes


@dataclass
class _Context:
    deployment: Deployment
    stack: StackArtifact
    logical_id: str
    properties: dict[str, Any]
    clients: Any  # local_mode.clients.Clients

    def name(self, key: str, limit: int = 63) -> str:
        return self.properties.get(key) or physical_name(self.stack, self.logical_id, limit)

    def client(self, service: str):
        return self.clients.client(service)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.deployment.region}:{self.deployment.account}:{resource}"


def _bucket(context: _Context):
    name = context.name("BucketName")
    _ensure_bucket(context.client("s3"), name)
    _send_bucket_events_to_eventbridge(context.client("s3"), name, context.properties)
    context.deployment.buckets[context.logical_id] = name
    return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}


def _send_bucket_events_to_eventbridge(s3, name: str, properties: dict) -> None:
    """NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled, stored in moto as AWS stores it: the
    local cloud sends the bucket's "Object Created" events to the deployed rules when moto has it."""
    configuration = properties.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {})
    if str(configuration.get("EventBridgeEnabled", "false")).lower() == "true":
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )


def _key(context: _Context):
    policy = json.dumps(context.properties.get("KeyPolicy", {}))
    key = context.client("kms").create_key(Description=context.properties.get("Description", ""), Policy=policy)[
        "KeyMetadata"
    ]
    return key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]}


def _alias(context: _Context):
    context.client("kms").create_alias(
        AliasName=context.properties["AliasName"], TargetKeyId=context.properties["TargetKeyId"]
    )
    return context.properties["AliasName"], {}


def _model_package_group(context: _Context):
    name = context.properties["ModelPackageGroupName"]
    description = context.properties.get("ModelPackageGroupDescription", name)
    arn = context.client("sagemaker").create_model_package_group(
        ModelPackageGroupName=name, ModelPackageGroupDescription=description
    )["ModelPackageGroupArn"]
    return arn, {"ModelPackageGroupArn": arn}


def _pipeline(context: _Context):
    name = context.properties["PipelineName"]
    definition = context.properties["PipelineDefinition"]
    body = definition.get("PipelineDefinitionBody")
    if body is None:
        raise AssemblyError(f"pipeline {name}: only PipelineDefinitionBody is supported in local mode")
    context.client("sagemaker").create_pipeline(
        PipelineName=name,
        PipelineDefinition=body,
        PipelineDescription=context.properties.get("PipelineDescription", name),
        RoleArn=context.properties["RoleArn"],
    )
    context.deployment.pipelines.append(name)
    return name, {"PipelineName": name}


def _role(context: _Context):
    name = context.name("RoleName", 64)
    document = json.dumps(context.properties.get("AssumeRolePolicyDocument", {}))
    iam = context.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)["Role"]["Arn"]
    for policy in context.properties.get("Policies", []):
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
        )
    for policy_arn in context.properties.get("ManagedPolicyArns", []):
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return name, {"Arn": arn, "RoleId": name}


def _policy(context: _Context):
    """AWS::IAM::Policy: an inline policy on each of its roles (CDK's DefaultPolicy of a role)."""
    name = context.properties["PolicyName"]
    document = json.dumps(context.properties["PolicyDocument"])
    for role in context.properties.get("Roles", []):
        context.client("iam").put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
    return name, {}


def _managed_policy(context: _Context):
    name = context.name("ManagedPolicyName", 128)
    iam = context.client("iam")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(context.properties["PolicyDocument"]))["Policy"][
        "Arn"
    ]
    for role in context.properties.get("Roles", []):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return arn, {"PolicyArn": arn}


def _encryption(properties: dict) -> dict[str, str]:
    key = properties.get("KmsMasterKeyId")
    return {"KmsMasterKeyId": key} if key else {}


def _topic(context: _Context):
    name = context.name("TopicName", 256)
    arn = context.client("sns").create_topic(Name=name, Attributes=_encryption(context.properties))["TopicArn"]
    return arn, {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]}


def _topic_policy(context: _Context):
    document = json.dumps(context.properties["PolicyDocument"])
    for topic_arn in context.properties["Topics"]:
        context.client("sns").set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=document)
    return context.logical_id, {}


def _queue_policy(context: _Context):
    document = json.dumps(context.properties["PolicyDocument"])
    for queue_url in context.properties["Queues"]:
        context.client("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": document})
    return context.logical_id, {}


def _queue(context: _Context):
    name = context.name("QueueName", 80)
    url = context.client("sqs").create_queue(QueueName=name, Attributes=_encryption(context.properties))["QueueUrl"]
    arn = context.arn("sqs", name)
    context.deployment.queues[arn] = url
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _log_group(context: _Context):
    name = context.name("LogGroupName", 512)
    context.client("logs").create_log_group(logGroupName=name)
    return name, {"Arn": context.arn("logs", f"log-group:{name}:*")}


def _function(context: _Context):
    name = context.name("FunctionName", 64)
    arn = context.arn("lambda", f"function:{name}")
    code = context.properties["Code"]
    asset = next(
        (item for item in context.stack.assets if item.key == code.get("S3Key") and item.packaging == "zip"), None
    )
    if asset is None:
        raise AssemblyError(f"function {context.logical_id}: its code is not a directory asset of the assembly")
    context.deployment.functions[arn] = Function(
        name=name,
        arn=arn,
        code_dir=asset.source,
        handler=context.properties["Handler"],
        role_arn=context.properties["Role"],
        environment={
            key: str(value) for key, value in context.properties.get("Environment", {}).get("Variables", {}).items()
        },
    )
    return name, {"Arn": arn}


def _permission(context: _Context):
    """AWS::Lambda::Permission as Lambda stores it: a statement of the function's policy, SourceArn as ArnLike and
    SourceAccount as StringEquals (Lambda, "Viewing resource-based IAM policies in Lambda")."""
    properties = context.properties
    name = properties["FunctionName"].rsplit(":", 1)[-1] if ":function:" in properties["FunctionName"] else None
    function = next(
        f for f in context.deployment.functions.values() if properties["FunctionName"] in (f.name, f.arn, name)
    )
    principal = properties["Principal"]
    condition: dict[str, dict[str, str]] = {}
    if properties.get("SourceArn"):
        condition["ArnLike"] = {"aws:SourceArn": properties["SourceArn"]}
    if properties.get("SourceAccount"):
        condition["StringEquals"] = {"aws:SourceAccount": properties["SourceAccount"]}
    statement = {
        "Sid": context.logical_id,
        "Effect": "Allow",
        "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
        "Action": properties["Action"],
        "Resource": function.arn,
    }
    if condition:
        statement["Condition"] = condition
    function.permissions.append(statement)
    return context.logical_id, {}


def _alarm(context: _Context):
    name = context.name("AlarmName", 255)
    arn = context.arn("cloudwatch", f"alarm:{name}")
    context.deployment.alarms[name] = Alarm(name, arn, list(context.properties.get("AlarmActions", [])))
    return name, {"Arn": arn}


def _event_invoke_config(context: _Context):
    """Retries, maximum event age and on-failure destination of the function's asynchronous invocations."""
    properties = context.properties
    function = next(f for f in context.deployment.functions.values() if f.name == properties["FunctionName"])
    function.async_retries = int(properties.get("MaximumRetryAttempts", function.async_retries))
    function.max_event_age_seconds = int(properties.get("MaximumEventAgeInSeconds", function.max_event_age_seconds))
    function.on_failure_arn = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    return f"{function.name}:{properties.get('Qualifier', '$LATEST')}", {}


def _rule(context: _Context):
    name = context.name("Name", 64)
    pattern = context.properties.get("EventPattern", {})
    context.client("events").put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    arn = context.arn("events", f"rule/{name}")
    targets = [Target.from_definition(t) for t in context.properties.get("Targets", [])]
    context.deployment.rules.append(Rule(name, pattern, targets, arn))
    return name, {"Arn": arn}


def _schedule(context: _Context):
    name = context.name("Name", 64)
    target = context.properties["Target"]
    fields = ("Arn", "RoleArn", "Input", "SageMakerPipelineParameters")  # as given: CreateSchedule refuses Input=""
    context.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=context.properties["ScheduleExpression"],
        ScheduleExpressionTimezone=context.properties.get("ScheduleExpressionTimezone", "UTC"),
        FlexibleTimeWindow=context.properties["FlexibleTimeWindow"],
        Target={key: target[key] for key in fields if key in target},
    )
    context.deployment.schedules[name] = Schedule(
        name=name,
        expression=context.properties["ScheduleExpression"],
        time_zone=context.properties.get("ScheduleExpressionTimezone", "UTC"),
        target=Target.from_definition(target),
    )
    return name, {"Arn": context.arn("scheduler", f"schedule/default/{name}")}


def _stage(context: _Context):
    """An API stage is served by local_mode/apigateway/ from the template; here only its account prerequisite is
    checked: logging to CloudWatch (access logs or execution logs) needs the account's API Gateway CloudWatch role
    ("Set up CloudWatch logging for REST APIs in API Gateway"), else CloudFormation's create fails with this."""
    logging_on = "AccessLogSetting" in context.properties or any(
        setting.get("LoggingLevel", "OFF") != "OFF" for setting in context.properties.get("MethodSettings", [])
    )
    if logging_on and not context.client("apigateway").get_account().get("cloudwatchRoleArn"):
        raise AssemblyError(
            f"{context.stack.name}/{context.logical_id}: CloudWatch Logs role ARN must be set in account settings to"
            " enable logging (Service: ApiGateway, Status Code: 400): set the account's API Gateway CloudWatch role"
            " first (`aws apigateway update-account`, README: Real-time predictions)"
        )
    return context.properties.get("StageName", context.logical_id), {}


def _custom_resource(context: _Context):
    """Recorded now, created when the functions run (custom_resources.create_all); nothing here refers to one."""
    properties = dict(context.properties)
    resource = CustomResource(
        stack_id=context.arn("cloudformation", f"stack/{context.stack.name}/local"),  # as AWS::StackId resolves
        logical_id=context.logical_id,
        resource_type=context.stack.template["Resources"][context.logical_id]["Type"],
        service_token=properties.pop("ServiceToken"),
        properties=properties,
    )
    context.deployment.custom_resources.append(resource)
    return physical_name(context.stack, context.logical_id), {}


_CREATORS: dict[str, Callable[[_Context], tuple[Any, dict[str, Any]]]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::KMS::Key": _key,
    "AWS::KMS::Alias": _alias,
    "AWS::SageMaker::ModelPackageGroup": _model_package_group,
    "AWS::SageMaker::Pipeline": _pipeline,
    "AWS::IAM::Role": _role,
    "AWS::IAM::Policy": _policy,
    "AWS::IAM::ManagedPolicy": _managed_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::Lambda::Permission": _permission,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::SNS::Topic": _topic,
    "AWS::SQS::Queue": _queue,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::Events::Rule": _rule,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::ApiGateway::Stage": _stage,
    "AWS::CloudFormation::CustomResource": _custom_resource,
    "Custom::": _custom_resource,
}
