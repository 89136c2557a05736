"""The pipeline role, the job role, the container code assets and the training pipeline."""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import Aws, CfnMapping, CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from cdk_nag import NagSuppressions
from constructs import Construct

from pipeline_definitions.build import pipeline_artifacts
from pipeline_definitions.placeholders import PLACEHOLDERS
from scoreline.layout import DRIFT_PREFIX, MANIFEST_PREFIX, PIPELINE_PREFIX, TRAINING_INPUT_PREFIX
from scoreline.pipeline_spec import pipeline_spec
from scoreline.settings import (
    ECR_IMAGE,
    Settings,
)
from stacks.code_assets import CodeAssets
from stacks.python_function import python_function
from stacks.security import data_key_for_sagemaker_resources, pass_role_to_sagemaker

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAINING_DATA_CODE = REPO_ROOT / "functions" / "training_data"
# The Evaluate step's output folder under pipeline/<execution>/: the property file the condition reads (JsonGet).
EVALUATION_OUTPUT = "evaluation"
_PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
# <account>.dkr.ecr.<region>.<partition's domain>/<repository>:<tag>, the form of every SageMaker framework image URI.
_IMAGE_URI = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.[a-z0-9.]+/(?P<repository>[^:@]+):"
)


class TrainingStack(Stack):
    """TrainingData -> Preprocess -> Train -> Evaluate -> CheckQuality -> Register, defined by the SDK at synth."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.IBucket,
        key: kms.IKey,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._settings = settings
        self._bucket = bucket
        self._key = key
        self._sagemaker_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        self.job_role = self._job_role()
        self.training_data_function = self._training_data_function()
        self.pipeline_role = self._pipeline_role()
        self._assets = self._code_assets()
        # The drift check's script runs in jobs the scoring stack's function starts (stacks/drift_check.py).
        self.drift_check_code = self._drift_check_code() if settings.drift_check else None
        drift_assets = {"drift_check_script_key": self.drift_check_code} if self.drift_check_code else {}
        self._grant_asset_reads({**self._assets, **drift_assets})
        self.pipeline_name = settings.pipeline_name

    def add_pipeline(self) -> None:
        """Add the SDK-built pipeline. Called last by the app: on a cache miss the definition is built in
        another process meanwhile (`pipeline_definitions.build.start_building`), so synth waits least."""
        self._pipeline(self._assets)
        CfnOutput(
            self,
            "PipelineName",
            value=self.pipeline_name,
            description="Start training with: aws sagemaker start-pipeline-execution --pipeline-name <this>",
        )

    def _job_role(self) -> iam.Role:
        """The role inside processing, training and transform jobs and the scoring models: their data, the data
        key, logs, metrics and image pulls. It cannot start jobs, pass roles or register models."""
        role = iam.Role(
            self,
            "JobRole",
            # SageMaker's confused-deputy guide: for models (serial inference for Batch Transform) the source ARN
            # must be arn:<partition>:sagemaker:<region>:<account>:*, which also covers processing, training and
            # transform jobs ("Cross-service confused deputy prevention", SageMaker AI Inference).
            assumed_by=_sagemaker_principal(f"{self._sagemaker_arn}:*"),
            description="Scoreline processing, training and transform jobs and scoring models (no control plane)",
        )
        self._bucket.grant_read(role, f"{TRAINING_INPUT_PREFIX}*")
        # A ManifestFile input: SageMaker reads the manifest object, then the objects it lists, with the job role.
        self._bucket.grant_read(role, f"{MANIFEST_PREFIX}*")
        self._bucket.grant_read_write(role, f"{PIPELINE_PREFIX}*")
        self._bucket.grant_read(role, f"{_static_prefix(self._settings.scoring_input_prefix)}*")
        self._bucket.grant_put(role, f"{self._settings.scoring_output_prefix}*")
        if self._settings.drift_check:  # its job reads a scoring job's output and writes its report
            self._bucket.grant_read(role, f"{self._settings.scoring_output_prefix}*")
            self._bucket.grant_put(role, f"{DRIFT_PREFIX}*")
        # OutputDataConfig/ProcessingOutputConfig KmsKeyId: "the SageMaker execution role must include permissions
        # to call kms:Encrypt" (SageMaker API reference, OutputDataConfig); reading inputs needs kms:Decrypt.
        self._key.grant_encrypt_decrypt(role)
        for statement in self._job_statements():
            role.add_to_policy(statement)
        _suppress_wildcards(
            role,
            "Scoped wildcards only: objects under this app's bucket prefixes, its /aws/sagemaker log groups, KMS "
            "data-key actions on this app's key; ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no "
            "resource-level permissions (the latter is limited to the /aws/sagemaker namespaces).",
        )
        return role

    def _job_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="JobLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/*"],
            ),
            iam.PolicyStatement(
                sid="JobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            ),
            iam.PolicyStatement(sid="PullImagesToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            *self._rollback_alarm_statements(),
        ]

    def _rollback_alarm_statements(self) -> list[iam.PolicyStatement]:
        """The endpoint's models run with this role, and SageMaker's deployment guardrails read the rollback alarms
        with it: "Ensure that your IAM execution role has permission to perform the cloudwatch:DescribeAlarms action
        on the auto-rollback alarms you specify" (Auto-Rollback Configuration and Monitoring). Real-time only."""
        if not self._settings.realtime:
            return []
        alarm_arns = [
            f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{name}"
            for name in self._settings.rollback_alarm_names
        ]
        return [
            iam.PolicyStatement(
                sid="DescribeRollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=alarm_arns
            )
        ]

    def _pipeline_role(self) -> iam.Role:
        """The role SageMaker Pipelines runs this pipeline with: starts its jobs with the job role, reads the
        property file of its condition and registers versions in this app's group."""
        role = iam.Role(
            self,
            "PipelineRole",
            # SageMaker's confused-deputy guide, SageMaker Pipelines: executions of one pipeline are
            # arn:<partition>:sagemaker:<region>:<account>:pipeline/<name>/* (not one execution's ARN).
            assumed_by=_sagemaker_principal(f"{self._sagemaker_arn}:pipeline/{self._settings.pipeline_name}/*"),
            description="Scoreline SageMaker pipeline: start its jobs with the job role, register model versions",
        )
        for statement in self._pipeline_statements():
            role.add_to_policy(statement)
        _suppress_wildcards(
            role,
            "Scoped wildcards only: jobs SageMaker Pipelines names pipelines-*, versions of this app's model package "
            "group, the evaluation reports under this app's pipeline/ prefix (read for JsonGet) and, with tuning on, "
            "tuning jobs (Pipelines' names for them are not documented).",
        )
        return role

    def _pipeline_statements(self) -> list[iam.PolicyStatement]:
        """What a pipeline execution role needs ("Access Management" in the SageMaker Pipelines guide): Create and
        Describe for each job type, iam:PassRole for the role its jobs run with, s3:GetObject for JsonGet."""
        arn = self._sagemaker_arn
        group = self._settings.model_package_group_name
        evaluation_reports = self._bucket.arn_for_objects(f"{PIPELINE_PREFIX}*/{EVALUATION_OUTPUT}/*")
        return [
            iam.PolicyStatement(
                sid="PipelineJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                # SageMaker Pipelines names every job it starts "pipelines-<execution>-<step>-...".
                resources=[f"{arn}:processing-job/pipelines-*", f"{arn}:training-job/pipelines-*"],
            ),
            *self._tuning_statements(),
            iam.PolicyStatement(
                sid="RegisterModels",
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:AddTags",
                ],
                resources=[f"{arn}:model-package-group/{group}", f"{arn}:model-package/{group}/*"],
            ),
            pass_role_to_sagemaker("PassJobRoleToSageMaker", self.job_role),
            iam.PolicyStatement(sid="ReadEvaluationReports", actions=["s3:GetObject"], resources=[evaluation_reports]),
            # A Lambda step invokes its function with the pipeline's role (SageMaker Pipelines, "Lambda step").
            iam.PolicyStatement(
                sid="InvokeTrainingDataFunction",
                actions=["lambda:InvokeFunction"],
                resources=[self.training_data_function.function_arn],
            ),
            iam.PolicyStatement(
                sid="DecryptEvaluationReportsThroughS3",
                actions=["kms:Decrypt"],
                resources=[self._key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            ),
            # CreateProcessingJob/CreateTrainingJob with a VolumeKmsKeyId need kms:CreateGrant from the caller
            # ("Amazon SageMaker API Permissions: Actions, Permissions, and Resources Reference"); a grant for an
            # AWS service is what kms:GrantIsForAWSResource allows, and DescribeKey lets SageMaker check the key.
            *data_key_for_sagemaker_resources("GrantJobVolumesTheDataKey", self._key, "DescribeDataKey"),
        ]

    def _tuning_statements(self) -> list[iam.PolicyStatement]:
        """With tuning on, the Tune step: SageMaker Pipelines creates the tuning job with the pipeline's role, reads
        it and lists its training jobs, best first (TuningStep's properties are DescribeHyperParameterTuningJob's
        and ListTrainingJobsForHyperParameterTuningJob's responses). The trials are the tuning job's own. Tuning job
        names hold at most 32 characters and Pipelines' naming of them is not documented, so the resource is any
        tuning job of this account and Region; without tuning the role has none of these actions."""
        if not self._settings.tuning_max_jobs:
            return []
        return [
            iam.PolicyStatement(
                sid="PipelineTuningJobs",
                actions=[
                    "sagemaker:CreateHyperParameterTuningJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                    "sagemaker:StopHyperParameterTuningJob",
                    "sagemaker:AddTags",
                ],
                resources=[f"{self._sagemaker_arn}:hyper-parameter-tuning-job/*"],
            )
        ]

    def _training_data_function(self) -> lambda_.Function:
        """The pipeline's TrainingData step: writes the input's manifest to a content-named key and returns it,
        with the champion's artifacts (functions/training_data/app.py)."""
        function = python_function(
            self,
            "TrainingDataFunction",
            code_dir=TRAINING_DATA_CODE,
            follow_symlinks=True,  # model_registry.py, shared with the other functions (functions/common)
            description="Scoreline pipeline step: name the training data by its content, find the champion",
            role_description=(
                "Scoreline TrainingData step: list the training input, write its manifest, find the champion"
            ),
            timeout=Duration.minutes(2),
            memory_size=256,
        )
        role = function.role
        for statement in self._training_data_statements():
            role.add_to_policy(statement)
        # Writes to the KMS-encrypted bucket need kms:GenerateDataKey on its key (grant_put adds it).
        self._bucket.grant_put(role, f"{MANIFEST_PREFIX}*")
        _suppress_wildcards(
            role,
            "Scoped wildcards only: manifests under this app's training/manifests/ prefix, versions of this app's "
            "model package group, KMS data-key actions on this app's key, its own log group; "
            "sagemaker:ListModelPackages has no resource-level permissions.",
        )
        return function

    def _training_data_statements(self) -> list[iam.PolicyStatement]:
        arn = self._sagemaker_arn
        group = self._settings.model_package_group_name
        return [
            iam.PolicyStatement(
                sid="ListTrainingInput",
                actions=["s3:ListBucket"],
                resources=[self._bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{TRAINING_INPUT_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                sid="ListApprovedVersions",
                actions=["sagemaker:ListModelPackages"],
                resources=["*"],  # no resource-level permissions for this List action
            ),
            iam.PolicyStatement(
                sid="DescribeVersions",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[f"{arn}:model-package/{group}/*"],
            ),
        ]

    def _grant_asset_reads(self, assets: dict[str, s3_assets.Asset]) -> None:
        """Jobs read exactly the code objects the definition names, not the whole CDK asset bucket
        (`Asset.grant_read` would allow every object in it)."""
        bucket = next(iter(assets.values())).bucket
        keys = sorted({asset.s3_object_key for asset in assets.values()})
        self.job_role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadCodeAssets",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(key) for key in keys],
            )
        )
        # An S3Prefix processing input lists its prefix (here: the object's exact key) before downloading it.
        self.job_role.add_to_policy(
            iam.PolicyStatement(
                sid="ListCodeAssets",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": keys}},
            )
        )

    def _grant_image_pulls(self, framework: dict[str, dict[str, str]], custom: dict[str, str]) -> None:
        """Jobs and models pull only the repositories of the images they use: the framework images' in the accounts
        AWS publishes them from in the deploying region (no account `*`), and each custom image's own repository.
        SageMaker pulls a job's or model's image with its execution role ("SageMaker Roles": the role lets SageMaker
        "download a Docker image that contains training code")."""
        if framework:
            self.job_role.add_to_policy(self._framework_pulls(framework))
        if custom:
            self.job_role.add_to_policy(
                iam.PolicyStatement(
                    sid="PullCustomImages",
                    actions=_PULL_ACTIONS,
                    resources=sorted({_repository_arn(image) for image in custom.values()}),
                )
            )

    def _framework_pulls(self, images: dict[str, dict[str, str]]) -> iam.PolicyStatement:
        repositories = {region: _image_repositories(region, uris) for region, uris in images.items()}
        names = sorted(repositories["us-east-1"])
        if any(sorted(found) != names for found in repositories.values()):
            raise ValueError(f"The framework images come from different repositories per region: {repositories}")
        accounts = CfnMapping(
            self,
            "ImageAccounts",
            mapping={
                region: {_mapping_key(name): account for name, account in found.items()}
                for region, found in repositories.items()
            },
        )
        return iam.PolicyStatement(
            sid="PullFrameworkImages",
            actions=_PULL_ACTIONS,
            resources=[
                f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{accounts.find_in_map(Aws.REGION, _mapping_key(name))}"
                f":repository/{name}"
                for name in names
            ],
        )

    def _code_assets(self) -> dict[str, s3_assets.Asset]:
        flavour_folder = f"{self._settings.model_flavour}_model"
        packer = CodeAssets(self, REPO_ROOT / "container_code", REPO_ROOT / ".scoreline" / "assets")
        assets = {
            "preprocess_script_key": packer.script("PreprocessScript", "features/preprocess.py"),
            "evaluate_script_key": packer.script("EvaluateScript", "evaluation/evaluate.py"),
            "features_code_key": packer.folder("FeaturesCode", "features"),
            "model_code_key": packer.folder("ModelCode", flavour_folder),
        }
        return assets

    def _drift_check_code(self) -> s3_assets.Asset:
        packer = CodeAssets(self, REPO_ROOT / "container_code", REPO_ROOT / ".scoreline" / "assets")
        return packer.script("DriftCheckScript", "drift/check.py")

    def _pipeline(self, assets: dict[str, s3_assets.Asset]) -> None:
        artifacts = pipeline_artifacts(pipeline_spec(self._settings))
        custom = self._settings.custom_images
        # Framework images for the uses no custom image replaces, per region.
        framework = {
            region: {use: uri for use, uri in uris.items() if use not in custom}
            for region, uris in artifacts["images"].items()
        }
        image_references = dict(custom)
        if framework["us-east-1"]:
            images = CfnMapping(
                self, "FrameworkImages", mapping={region: _camel_keys(uris) for region, uris in framework.items()}
            )
            image_references |= {use: images.find_in_map(Aws.REGION, _camel(use)) for use in framework["us-east-1"]}
        references = {
            "region": Aws.REGION,
            "bucket": self._bucket.bucket_name,
            "role_arn": self.job_role.role_arn,  # the role inside the jobs; the pipeline runs with its own
            "kms_key_arn": self._key.key_arn,
            "asset_bucket": assets["model_code_key"].s3_bucket_name,
            **{name: asset.s3_object_key for name, asset in assets.items()},
            "training_data_function_arn": self.training_data_function.function_arn,
            **image_references,
        }
        body = _substitute(artifacts["definition"], references)
        self.pipeline = pipeline = sagemaker.CfnPipeline(
            self,
            "TrainingPipeline",
            pipeline_name=self._settings.pipeline_name,
            pipeline_description="Name the data, preprocess, train, evaluate against baselines and champion, register",
            role_arn=self.pipeline_role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": body},
        )
        self._grant_image_pulls(framework if framework["us-east-1"] else {}, custom)
        # Executions must not start before the roles' permissions exist (the roles themselves are already GetAtts).
        for role in (self.pipeline_role, self.job_role):
            pipeline.node.add_dependency(role.node.find_child("DefaultPolicy"))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _camel_keys(values: dict[str, str]) -> dict[str, str]:
    return {_camel(key): value for key, value in values.items()}


def _substitute(definition: str, references: dict[str, str]) -> str:
    """Swap each placeholder literal for `${Variable}` and let CloudFormation fill in the real value."""
    body = definition.replace("${", "${!")  # a literal "${" must not be read as a variable
    variables = {}
    for literal, variable in PLACEHOLDERS.substitution_names().items():
        field = next(name for name in references if _camel(name) == variable)
        body = body.replace(literal, "${" + variable + "}")
        variables[variable] = references[field]
    return Fn.sub(body, variables)


def _sagemaker_principal(source_arn: str) -> iam.IPrincipal:
    """sagemaker.amazonaws.com, only on behalf of this account's resources matching `source_arn` (the
    aws:SourceArn/aws:SourceAccount conditions of SageMaker's "Cross-service confused deputy prevention")."""
    return iam.ServicePrincipal("sagemaker.amazonaws.com").with_conditions(
        {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": source_arn},
        }
    )


def _suppress_wildcards(role: iam.Role, reason: str) -> None:
    NagSuppressions.add_resource_suppressions(
        role, [{"id": "AwsSolutions-IAM5", "reason": reason}], apply_to_children=True
    )


def _repository_arn(image: str) -> str:
    """The ECR repository of a custom image URI, in the image's own account and region."""
    match = ECR_IMAGE.match(image)
    return f"arn:{Aws.PARTITION}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"


def _image_repositories(region: str, uris: dict[str, str]) -> dict[str, str]:
    """{repository name: account} of a region's image URIs."""
    repositories = {}
    for uri in uris.values():
        match = _IMAGE_URI.match(uri)
        if not match or match["region"] != region:
            raise ValueError(f"Image URI {uri!r} is not an ECR image of region {region}")
        repositories[match["repository"]] = match["account"]
    return repositories


def _mapping_key(repository: str) -> str:
    """sagemaker-scikit-learn -> SagemakerScikitLearn (CloudFormation mapping keys are alphanumeric)."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", repository))


def _static_prefix(prefix: str) -> str:
    """The part of a prefix before its first placeholder: scoring/input/{date}/ -> scoring/input/."""
    return prefix.split("{", 1)[0]
