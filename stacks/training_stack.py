"""The SageMaker execution role, the container code assets and the training pipeline."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, CfnMapping, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from cdk_nag import NagSuppressions
from constructs import Construct

from pipeline_definitions.build import pipeline_artifacts
from pipeline_definitions.placeholders import PLACEHOLDERS
from pipeline_definitions.spec import PipelineSpec
from stacks.code_assets import CodeAssets
from stacks.settings import (
    PYTORCH_IMAGE_VERSION,
    PYTORCH_PYTHON_VERSION,
    SKLEARN_IMAGE_VERSION,
    Settings,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGE_REPOSITORIES = ("sagemaker-scikit-learn", "pytorch-training", "pytorch-inference")
# S3 prefixes of the data bucket and who uses them (the README documents the same layout).
TRAINING_INPUT_PREFIX = "training/input/"
PIPELINE_PREFIX = "pipeline/"


def pipeline_spec(settings: Settings) -> PipelineSpec:
    return PipelineSpec(
        pipeline_name=settings.pipeline_name,
        model_package_group_name=settings.model_package_group_name,
        flavour=settings.model_flavour,
        target_column=settings.target_column,
        categorical_columns=settings.categorical_columns,
        rmse_threshold=settings.rmse_threshold,
        processing_instance_type=settings.processing_instance_type,
        processing_instance_count=settings.processing_instance_count,
        training_instance_type=settings.training_instance_type,
        training_instance_count=settings.training_instance_count,
        transform_instance_type=settings.transform_instance_type,
        hyperparameters=tuple(sorted(settings.training_hyperparameters.items())),
        image_versions=(
            ("sklearn", SKLEARN_IMAGE_VERSION),
            ("pytorch", PYTORCH_IMAGE_VERSION),
            ("pytorch_python", PYTORCH_PYTHON_VERSION),
        ),
    )


class TrainingStack(Stack):
    """Preprocess -> Train -> Evaluate -> CheckQuality -> Register, defined by the SageMaker SDK at synth."""

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
        self.execution_role = self._execution_role()
        self._assets = self._code_assets()
        self.pipeline_name = settings.pipeline_name

    def add_pipeline(self) -> None:
        """Add the SDK-built pipeline. Called last by the app: on a cache miss the definition is built in
        another process meanwhile (`pipeline_definitions.build.start_building`), so synth waits least."""
        self._pipeline(self._assets)

    def _execution_role(self) -> iam.Role:
        """One role for the pipeline and every job it starts, and for scoring's models and transform jobs."""
        role = iam.Role(
            self,
            "SageMakerExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Scoreline pipeline, processing, training and transform jobs",
        )
        self._bucket.grant_read(role, f"{TRAINING_INPUT_PREFIX}*")
        self._bucket.grant_read_write(role, f"{PIPELINE_PREFIX}*")
        self._bucket.grant_read(role, f"{_static_prefix(self._settings.scoring_input_prefix)}*")
        self._bucket.grant_put(role, f"{self._settings.scoring_output_prefix}*")
        self._key.grant_encrypt_decrypt(role)
        for statement in self._sagemaker_statements(role):
            role.add_to_policy(statement)
        self._suppress_role_findings(role)
        return role

    def _sagemaker_statements(self, role: iam.Role) -> list[iam.PolicyStatement]:
        arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        group = self._settings.model_package_group_name
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
            iam.PolicyStatement(
                sid="RegisterModels",
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:AddTags",
                ],
                resources=[f"{arn}:model-package-group/{group}", f"{arn}:model-package/{group}/*"],
            ),
            iam.PolicyStatement(
                sid="PassOnlyToSageMaker",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
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
            iam.PolicyStatement(
                sid="PullFrameworkImages",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                resources=[f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:*:repository/{name}" for name in IMAGE_REPOSITORIES],
            ),
        ]

    def _suppress_role_findings(self, role: iam.Role) -> None:
        NagSuppressions.add_resource_suppressions(
            role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": (
                        "Scoped wildcards only: objects under this app's bucket prefixes, jobs SageMaker Pipelines "
                        "names pipelines-*, versions of this app's model package group, its /aws/sagemaker log "
                        "groups, the AWS framework image repositories (owned by AWS accounts), KMS data-key "
                        "actions on this app's key; ecr:GetAuthorizationToken and cloudwatch:PutMetricData have "
                        "no resource-level permissions (the latter is limited by namespace)."
                    ),
                }
            ],
            apply_to_children=True,
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
        for asset in assets.values():
            asset.grant_read(self.execution_role)
        return assets

    def _pipeline(self, assets: dict[str, s3_assets.Asset]) -> None:
        artifacts = pipeline_artifacts(pipeline_spec(self._settings))
        images = CfnMapping(
            self,
            "FrameworkImages",
            mapping={region: _camel_keys(uris) for region, uris in artifacts["images"].items()},
        )
        references = {
            "region": Aws.REGION,
            "bucket": self._bucket.bucket_name,
            "role_arn": self.execution_role.role_arn,
            "kms_key_arn": self._key.key_arn,
            "asset_bucket": assets["model_code_key"].s3_bucket_name,
            **{name: asset.s3_object_key for name, asset in assets.items()},
            **{name: images.find_in_map(Aws.REGION, _camel(name)) for name in artifacts["images"]["us-east-1"]},
        }
        body = _substitute(artifacts["definition"], references)
        pipeline = sagemaker.CfnPipeline(
            self,
            "TrainingPipeline",
            pipeline_name=self._settings.pipeline_name,
            pipeline_description="Preprocess, train, evaluate, gate on RMSE, register for approval",
            role_arn=self.execution_role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": body},
        )
        # Executions must not start before the role's permissions exist (the role itself is already a GetAtt).
        pipeline.node.add_dependency(self.execution_role.node.find_child("DefaultPolicy"))


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


def _static_prefix(prefix: str) -> str:
    """The part of a prefix before its first placeholder: scoring/input/{date}/ -> scoring/input/."""
    return prefix.split("{", 1)[0]
