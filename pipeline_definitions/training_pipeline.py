"""The Scoreline training pipeline, built with the SageMaker Python SDK V3 and returned as definition JSON.

CheckInstanceTypes -> TrainingData -> Preprocess -> Train -> Evaluate -> CheckQuality -> Register (features, model)
                  \\-> InstanceTypeRefused (Fail)                      \\-> QualityTooLow (Fail, the gate's numbers)

TrainingData (a Lambda step, never cached) names the input by its content (a manifest at a key named by the
listing's digest) and finds the champion; Preprocess reads that manifest, so step caching hits exactly when the
data is the same. Evaluate measures the candidate, the baselines and the champion on the same test rows.

The problem type (regression, binary, multiclass) may be settled only at run time: Preprocess infers it from the
target column when problem_type is auto and writes schema/schema.json, which Train receives as its `schema`
channel. So the gate is generic: Evaluate writes the chosen metric's scores, higher is better, and CheckQuality
compares those.

Built offline: every value that only exists at deploy time (bucket, role, key, code locations, images) is a
placeholder that the stack replaces with a CloudFormation reference, so the SDK never needs AWS and two builds
give the same bytes. The SDK's offline settings and speed patches are applied by `build_definition` (sdk_setup.py),
not by importing this module.
"""

from __future__ import annotations

import json

import boto3
import botocore.session
from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.resources import Model
from sagemaker.core.shapes import (
    ContainerDefinition,
    MetricDefinition,
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
    StoppingCondition,
)
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
from sagemaker.core.workflow.conditions import (
    ConditionEquals,
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThanOrEqualTo,
    ConditionOr,
)
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TuningStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer
from sagemaker.train.tuner import HyperparameterTuner

from pipeline_definitions.placeholders import PLACEHOLDERS
from pipeline_definitions.sdk_setup import prepare_sdk
from scoreline.instance_types import has_instance_storage
from scoreline.layout import MANIFEST_PREFIX, PIPELINE_PREFIX, TRAINING_INPUT_PREFIX
from scoreline.pipeline_spec import PipelineSpec
from scoreline.tuning import OBJECTIVE_FOLDS, OBJECTIVE_METRIC, OBJECTIVE_REGEX, TUNING_SEED, parameter_ranges

_TELEMETRY_OFF = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
_CACHE = CacheConfig(enable_caching=True, expire_after="P30D")
_PROCESSING = "/opt/ml/processing"
# Training logs "validation-rmse=<value>;" (regression) or "validation-logloss=<value>;" (classification) per
# iteration (container_code/*_model/train.py).
_METRICS = [
    MetricDefinition(name="validation:rmse", regex=r"validation-rmse=([0-9\.]+)"),
    MetricDefinition(name="validation:logloss", regex=r"validation-logloss=([0-9\.]+)"),
]
# Serving containers read their handlers from the model artifact's code/ folder: the scoring function creates the
# model with EnableNetworkIsolation=True, so a container cannot download an s3:// SAGEMAKER_SUBMIT_DIRECTORY (no
# network, no credentials: CreateModel "EnableNetworkIsolation: Isolates the model container. No inbound or outbound
# network calls can be made to or from the model container"). Both framework serving stacks honour this local path:
# - scikit-learn image: sagemaker_sklearn_container/serving.py imports the user module through
#   sagemaker_containers._modules.import_module(env.module_dir = SAGEMAKER_SUBMIT_DIRECTORY), whose
#   _files.download_and_extract copies a local directory (`elif os.path.isdir(uri): ... shutil.copytree`) and
#   downloads only `uri.startswith("s3://")` (aws/sagemaker-scikit-learn-container, aws/sagemaker-containers).
# - PyTorch inference image: sagemaker_inference/environment.py sets code_dir = <model_dir>/code = /opt/ml/model/code
#   and sagemaker_pytorch_serving_container/torchserve.py puts it on PYTHONPATH to import SAGEMAKER_PROGRAM
#   (aws/sagemaker-pytorch-inference-toolkit); it never downloads code.
# - XGBoost image (script mode): sagemaker_xgboost_container/serving.py starts sagemaker_containers' server, whose
#   start() calls the same _modules.import_module(env.module_dir, env.module_name) as the scikit-learn image
#   (aws/sagemaker-xgboost-container, aws/sagemaker-containers _server.py).
# The SageMaker Python SDK sets the same value when it repacks code into a network-isolated model.
_SERVING_CODE_DIR = "/opt/ml/model/code"
# What a processing script writes to tell why it failed: DescribeProcessingJob returns its first 1 KB as ExitMessage
# ("Save and Access Metadata Information About Your Processing Job").
_MESSAGE_FILE = "/opt/ml/output/message"


def build_definition(spec: PipelineSpec) -> str:
    """Return the pipeline definition JSON for `spec`, with placeholders for deploy-time values."""
    prepare_sdk()
    definition = json.loads(_build_pipeline(spec).definition())
    _encrypt_trial_volumes(definition["Steps"], _volume_key(spec.training_instance_type))
    return json.dumps(_without_nulls(definition), sort_keys=True)


def _encrypt_trial_volumes(steps: list[dict], key: str | None) -> None:
    """The SDK's HyperparameterTuner builds the trials' ResourceConfig from the instance type, count and volume size
    only (sagemaker/train/tuner.py, _build_training_job_definition), dropping the trainer's VolumeKmsKeyId; the
    tuning job's TrainingJobDefinition.ResourceConfig takes it as a training job's does (API reference,
    HyperParameterTrainingJobDefinition, ResourceConfig)."""
    for step in steps:
        arguments = step.get("Arguments", {})
        _encrypt_trial_volumes(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []), key)
        if step["Type"] == "Tuning" and key:
            arguments["TrainingJobDefinition"]["ResourceConfig"]["VolumeKmsKeyId"] = key


def _without_nulls(value):
    """The SDK writes unset fields such as "MlflowConfig" as null; the service model has no nulls."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _session() -> PipelineSession:
    boto_session = boto3.Session(
        aws_access_key_id="offline", aws_secret_access_key="offline", region_name=PLACEHOLDERS.region
    )
    return PipelineSession(
        boto_session=boto_session, default_bucket=PLACEHOLDERS.bucket, sagemaker_config=_TELEMETRY_OFF
    )


class _Parameters:
    """Pipeline parameters: what a user may override per execution. Instance counts are not parameters: the
    settings allow only counts the jobs use (scoreline/settings.py), and an override at start time could not be checked
    before the jobs ran."""

    def __init__(self, spec: PipelineSpec):
        self.input_data = ParameterString(
            "InputDataUri", default_value=f"s3://{PLACEHOLDERS.bucket}/{TRAINING_INPUT_PREFIX}"
        )
        self.processing_type = ParameterString("ProcessingInstanceType", spec.processing_instance_type)
        self.training_type = ParameterString("TrainingInstanceType", spec.training_instance_type)
        self.rmse_threshold = ParameterFloat("RmseThreshold", spec.rmse_threshold)
        self.min_improvement = ParameterFloat("MinImprovementOverBaseline", spec.min_improvement_over_baseline)
        self.champion_tolerance = ParameterFloat("ChampionTolerance", spec.champion_tolerance)
        self.approval_status = ParameterString("ModelApprovalStatus", "PendingManualApproval")

    def all(self) -> list:
        return [
            self.input_data,
            self.processing_type,
            self.training_type,
            self.rmse_threshold,
            self.min_improvement,
            self.champion_tolerance,
            self.approval_status,
        ]


def _run_path(*parts: str):
    """s3://<bucket>/pipeline/<execution id>/<parts>: each execution keeps its own outputs."""
    return Join(
        on="/",
        values=[
            f"s3://{PLACEHOLDERS.bucket}/{PIPELINE_PREFIX.rstrip('/')}",
            ExecutionVariables.PIPELINE_EXECUTION_ID,
            *parts,
        ],
    )


def _volume_key(instance_type: str) -> str | None:
    """The data key for an EBS volume; none for a type with NVMe instance storage, whose storage the instance
    hardware encrypts: AWS refuses a VolumeKmsKeyId for those types (API reference: ProcessingClusterConfig,
    ResourceConfig). The check step refuses executions whose instance-type overrides change the storage kind."""
    return None if has_instance_storage(instance_type) else PLACEHOLDERS.kms_key_arn


def _processor(params: _Parameters, session: PipelineSession, image: str, spec: PipelineSpec) -> ScriptProcessor:
    return ScriptProcessor(
        role=PLACEHOLDERS.role_arn,
        image_uri=image,
        command=["python3"],
        instance_type=params.processing_type,
        instance_count=spec.processing_instance_count,
        volume_kms_key=_volume_key(spec.processing_instance_type),
        output_kms_key=PLACEHOLDERS.kms_key_arn,
        max_runtime_in_seconds=spec.max_runtime_seconds,
        sagemaker_session=session,
    )


def _s3_input(name: str, source, destination: str, data_type: str = "S3Prefix") -> ProcessingInput:
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(s3_uri=source, local_path=destination, s3_data_type=data_type, s3_input_mode="File"),
    )


# What the TrainingData function returns (functions/training_data/app.py).
_TRAINING_DATA_OUTPUTS = ["ManifestUri", "ObjectCount", "ChampionArn", "ChampionFeaturesModelUri", "ChampionModelUri"]


def _training_data_step(spec: PipelineSpec, params: _Parameters) -> LambdaStep:
    """Not cached: it has no CacheConfig, and SageMaker lists cache keys only for processing, training, tuning,
    AutoML, transform, check and EMR steps ("Default cache key attributes by pipeline step type"), so the listing
    and the champion are read on every execution."""
    return LambdaStep(
        name="TrainingData",
        # An ARN, no code: the SDK only references the function the stack deploys (no AWS call at synth).
        lambda_func=Lambda(function_arn=PLACEHOLDERS.training_data_function_arn),
        inputs={
            "InputDataUri": params.input_data,
            "ManifestPrefix": f"s3://{PLACEHOLDERS.bucket}/{MANIFEST_PREFIX}",
            "ModelPackageGroupName": spec.model_package_group_name,
        },
        outputs=[
            LambdaOutput(output_name=name, output_type=LambdaOutputTypeEnum.String) for name in _TRAINING_DATA_OUTPUTS
        ],
    )


def _s3_output(name: str, source: str, destination) -> ProcessingOutput:
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(s3_uri=destination, local_path=source, s3_upload_mode="EndOfJob"),
    )


def _preprocess_step(spec: PipelineSpec, params: _Parameters, session: PipelineSession, data: LambdaStep):
    processor = _processor(params, session, PLACEHOLDERS.preprocess_image, spec)
    outputs = ["train", "validation", "test", "model", "schema"]
    step_args = processor.run(
        code=PLACEHOLDERS.asset_uri(PLACEHOLDERS.preprocess_script_key),
        inputs=[
            # The manifest's key names the data's content: this input, hence the cache key, changes with the data.
            _s3_input(
                "data", data.properties.Outputs["ManifestUri"], f"{_PROCESSING}/input/data", data_type="ManifestFile"
            ),
            # The features container's code, packed by the script into model.tar.gz under code/.
            _s3_input(
                "serving_code",
                PLACEHOLDERS.asset_uri(PLACEHOLDERS.features_code_key),
                f"{_PROCESSING}/input/serving_code",
            ),
        ],
        outputs=[_s3_output(name, f"{_PROCESSING}/output/{name}", _run_path("preprocess", name)) for name in outputs],
        # Paths passed explicitly, not left to the script's defaults, so a runner that maps /opt/ml elsewhere
        # (local mode) sees them in the request.
        arguments=[
            "--target-column",
            spec.target_column,
            "--problem-type",
            spec.problem_type,
            "--categorical-columns",
            ",".join(spec.categorical_columns),
            "--input-dir",
            f"{_PROCESSING}/input/data",
            "--output-dir",
            f"{_PROCESSING}/output",
            "--serving-code-dir",
            f"{_PROCESSING}/input/serving_code",
            "--message-file",
            _MESSAGE_FILE,
        ],
    )
    return ProcessingStep(name="Preprocess", step_args=step_args, cache_config=_CACHE)


def _train_step(spec: PipelineSpec, params: _Parameters, session: PipelineSession, preprocess: ProcessingStep):
    """Train (tuning off) or Tune: returns the step and the S3 URI of the model artifact it produces."""
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    inputs = [
        InputData(channel_name="train", data_source=outputs["train"].S3Output.S3Uri, content_type="text/csv"),
        InputData(channel_name="validation", data_source=outputs["validation"].S3Output.S3Uri, content_type="text/csv"),
        # schema.json: the problem type and the classes; training copies it into the model artifact.
        InputData(channel_name="schema", data_source=outputs["schema"].S3Output.S3Uri, content_type="application/json"),
    ]
    if spec.tuning_max_jobs:
        return _tune_step(spec, params, session, inputs)
    trainer = _trainer(spec, params, session, "train", {})
    step = TrainingStep(name="Train", step_args=trainer.train(input_data_config=inputs), cache_config=_CACHE)
    return step, step.properties.ModelArtifacts.S3ModelArtifacts


def _trainer(spec: PipelineSpec, params: _Parameters, session: PipelineSession, output: str, extra: dict):
    return ModelTrainer(
        sagemaker_session=session,
        role=PLACEHOLDERS.role_arn,
        training_image=PLACEHOLDERS.training_image,
        compute=Compute(
            instance_type=params.training_type,
            instance_count=spec.training_instance_count,
            volume_size_in_gb=30,
            volume_kms_key_id=_volume_key(spec.training_instance_type),
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=spec.max_runtime_seconds),
        output_data_config=OutputDataConfig(
            s3_output_path=_run_path(output), kms_key_id=PLACEHOLDERS.kms_key_arn, compression_type="GZIP"
        ),
        hyperparameters={
            # The framework image's own entry point downloads and runs the script (no SDK upload at synth).
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": PLACEHOLDERS.asset_uri(PLACEHOLDERS.model_code_key),
            "sagemaker_region": PLACEHOLDERS.region,
            "sagemaker_container_log_level": "20",
            **_distribution(spec),
            # Small data: the script cross-validates below this many rows (README, "Small data").
            "cross-validation-below-rows": str(spec.cross_validation_below_rows),
            **extra,
            **dict(spec.hyperparameters),
        },
        base_job_name=f"{spec.pipeline_name}-{output}",
    ).with_metric_definitions(_METRICS)


def _tune_step(spec: PipelineSpec, params: _Parameters, session: PipelineSession, inputs: list[InputData]):
    """A tuning job of spec.tuning_max_jobs trials (README, "Tuning"), each scored by its cross-validated objective
    (scoreline/tuning.py); the best trial's artifact is the model. A tuning job's training jobs write to
    <S3OutputPath>/<training job name>/output/model.tar.gz, as a training job does, and the step's
    TrainingJobSummaries are ListTrainingJobsForHyperParameterTuningJob's, best objective first (the SDK's
    TuningStep.get_top_model_s3_uri builds the same path from a fixed bucket and prefix; ours holds the execution)."""
    trainer = _trainer(spec, params, session, "tune", {"objective-folds": str(OBJECTIVE_FOLDS)})
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name=OBJECTIVE_METRIC,
        objective_type="Minimize",
        hyperparameter_ranges=_sdk_ranges(parameter_ranges(spec.flavour, dict(spec.hyperparameters))),
        metric_definitions=[{"Name": OBJECTIVE_METRIC, "Regex": OBJECTIVE_REGEX}]
        + [{"Name": metric.name, "Regex": metric.regex} for metric in _METRICS],
        strategy=spec.tuning_strategy,
        max_jobs=spec.tuning_max_jobs,
        max_parallel_jobs=spec.tuning_max_parallel_jobs,
        random_seed=TUNING_SEED,  # "RandomSeed" (API reference, HyperParameterTuningJobConfig)
    )
    step = TuningStep(name="Tune", step_args=tuner.tune(inputs=inputs), cache_config=_CACHE)
    # The tuning job's own output path, not this execution's: on a cache hit the trials are an earlier execution's.
    best_model = Join(
        on="/",
        values=[
            step.properties.TrainingJobDefinition.OutputDataConfig.S3OutputPath,
            step.properties.TrainingJobSummaries[0].TrainingJobName,
            "output/model.tar.gz",
        ],
    )
    return step, best_model


def _sdk_ranges(ranges: dict[str, list[dict]]) -> dict:
    """The API-shaped ranges (scoreline/tuning.py) as the SDK's parameter ranges."""
    sdk = {}
    for item in ranges.get("ContinuousParameterRanges", []):
        sdk[item["Name"]] = ContinuousParameter(item["MinValue"], item["MaxValue"], scaling_type=item["ScalingType"])
    for item in ranges.get("IntegerParameterRanges", []):
        sdk[item["Name"]] = IntegerParameter(item["MinValue"], item["MaxValue"], scaling_type=item["ScalingType"])
    for item in ranges.get("CategoricalParameterRanges", []):
        sdk[item["Name"]] = CategoricalParameter(item["Values"])
    return sdk


def _distribution(spec: PipelineSpec) -> dict[str, str]:
    """PyTorch on several instances: the torch_distributed distribution, which "runs torchrun and sets up environment
    variables needed for running PyTorch distributed training on SageMaker AI" ("Use the PyTorch framework
    estimators in the SageMaker Python SDK"). It is the hyperparameter the SDK's PyTorch estimator sets for
    distribution={"torch_distributed": {"enabled": True}}; the PyTorch training image's toolkit reads it
    (sagemaker_pytorch_container/training.py) and runs on every instance `torchrun --nnodes <instances>
    --nproc_per_node <GPUs, else Neuron cores, else 1> --master_addr algo-1 --master_port 7777 --node_rank <index
    in hosts> train.py ...` (sagemaker-training torch_distributed.py, runner.py): one process per CPU instance.
    V3's ModelTrainer(distributed=Torchrun()) builds the same torchrun command, but only with a SourceCode whose
    drivers the SDK uploads while building the definition, which this offline, byte-stable build cannot do.
    The job has no network isolation; it would still allow "calls between peers within a training cluster for
    distributed training" (CreateTrainingJob, EnableNetworkIsolation). One instance: no distribution at all."""
    if spec.flavour == "pytorch" and spec.training_instance_count > 1:
        return {"sagemaker_torch_distributed_enabled": "true"}
    return {}


def _evaluate_step(spec, params, session, data: LambdaStep, preprocess: ProcessingStep, model_uri):
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    processor = _processor(params, session, PLACEHOLDERS.evaluation_image, spec)
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    step_args = processor.run(
        code=PLACEHOLDERS.asset_uri(PLACEHOLDERS.evaluate_script_key),
        inputs=[
            _s3_input("test", outputs["test"].S3Output.S3Uri, f"{_PROCESSING}/input/test"),
            _s3_input("train", outputs["train"].S3Output.S3Uri, f"{_PROCESSING}/input/train"),
            # Small data: the baselines are cross-validated on the training and validation rows, as the model was.
            _s3_input("validation", outputs["validation"].S3Output.S3Uri, f"{_PROCESSING}/input/validation"),
            _s3_input("features_model", outputs["model"].S3Output.S3Uri, f"{_PROCESSING}/input/features_model"),
            # Each artifact carries its handlers under code/: Evaluate measures exactly what gets registered.
            _s3_input("model", model_uri, f"{_PROCESSING}/input/model"),
        ],
        outputs=[_s3_output("evaluation", f"{_PROCESSING}/output/evaluation", _run_path("evaluation"))],
        arguments=[
            "--target-column",
            spec.target_column,
            "--input-dir",
            f"{_PROCESSING}/input",
            "--output-dir",
            f"{_PROCESSING}/output/evaluation",
            "--message-file",
            _MESSAGE_FILE,
            # The champion's artifacts ("none" without one): a new champion makes Evaluate run again.
            "--champion-arn",
            data.properties.Outputs["ChampionArn"],
            "--champion-features-model-uri",
            data.properties.Outputs["ChampionFeaturesModelUri"],
            "--champion-model-uri",
            data.properties.Outputs["ChampionModelUri"],
            "--min-improvement-over-baseline",
            _text(params.min_improvement),
            "--champion-tolerance",
            _text(params.champion_tolerance),
            "--gate-metric",
            spec.gate_metric,
            "--confidence",
            str(spec.gate_confidence),
        ],
    )
    step = ProcessingStep(name="Evaluate", step_args=step_args, property_files=[report], cache_config=_CACHE)
    return step, report


def _text(parameter):
    """A number parameter as a container argument, which is a string."""
    return Join(on="", values=[parameter])


def _register_step(spec, params, session, preprocess: ProcessingStep, model_uri, evaluate):
    features_model_uri = Join(
        on="/",
        values=[preprocess.properties.ProcessingOutputConfig.Outputs["model"].S3Output.S3Uri, "model.tar.gz"],
    )
    features = ContainerDefinition(
        image=PLACEHOLDERS.features_image,
        model_data_url=features_model_uri,
        environment=_serving_environment(),
    )
    model = ContainerDefinition(
        image=PLACEHOLDERS.inference_image,
        model_data_url=model_uri,
        environment=_serving_environment(),
    )
    builder = ModelBuilder(
        model=[
            Model(model_name="features", primary_container=features),
            Model(model_name="model", primary_container=model),
        ],
        role_arn=PLACEHOLDERS.role_arn,
        sagemaker_session=session,
        instance_type=spec.transform_instance_type,
    )
    evaluation_uri, drift_baseline_uri = (
        Join(on="/", values=[evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri, name])
        for name in ("evaluation.json", "drift_baseline.json")
    )
    step_args = builder.register(
        model_package_group_name=spec.model_package_group_name,
        approval_status=params.approval_status,
        content_types=["text/csv"],
        response_types=["text/csv"],
        transform_instances=[spec.transform_instance_type],
        # ModelMetrics.ModelQuality.Statistics is a MetricsSource (content type + S3 URI; API reference
        # "ModelQuality", "MetricsSource"): the registry points at evaluation.json whatever it holds, and
        # evaluation.json uses the model-quality layout of its problem type (regression_metrics,
        # binary_classification_metrics or multiclass_classification_metrics; "Model quality metrics and Amazon
        # CloudWatch monitoring"), so one registration serves every problem type.
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
        ),
        # DriftCheckBaselines.ModelDataQuality.Statistics (a MetricsSource; API reference "DriftCheckBaselines",
        # "DriftCheckModelDataQuality": "the drift check model data quality statistics") is the field for the
        # distribution of the data a version was trained on; ModelQuality is for metrics against ground truth,
        # which scoring does not have. Evaluate's drift_baseline.json holds the features' and the predictions'
        # distributions; every scoring run's drift check reads it from here (container_code/drift/check.py).
        drift_check_baselines=DriftCheckBaselines(
            model_data_statistics=MetricsSource(content_type="application/json", s3_uri=drift_baseline_uri)
        ),
        description=f"{spec.flavour} model on features from the Preprocess step",
    )
    return ModelStep(name="Register", step_args=step_args)


def _serving_environment() -> dict[str, str]:
    return {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": _SERVING_CODE_DIR,
        "SAGEMAKER_REGION": PLACEHOLDERS.region,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    }


def _build_pipeline(spec: PipelineSpec) -> Pipeline:
    session = _session()
    params = _Parameters(spec)
    data = _training_data_step(spec, params)
    preprocess = _preprocess_step(spec, params, session, data)
    train, model_uri = _train_step(spec, params, session, preprocess)
    evaluate, report = _evaluate_step(spec, params, session, data, preprocess, model_uri)
    register = _register_step(spec, params, session, preprocess, model_uri, evaluate)
    check = _quality_gate(params, evaluate, report, register)
    return Pipeline(
        name=spec.pipeline_name,
        parameters=params.all(),
        steps=[_instance_type_check(spec, params, [data, preprocess, train, evaluate, check])],
        sagemaker_session=session,
    )


def _quality_gate(params: _Parameters, evaluate: ProcessingStep, report: PropertyFile, register) -> ConditionStep:
    """Register only a candidate that is clearly better than the trivial baseline (signal), not clearly worse than
    the best baseline less MinImprovementOverBaseline nor than the champion plus ChampionTolerance ("clearly": by
    the paired bootstrap's interval, container_code/evaluation/evaluate.py), and, for regression, meets the absolute
    RmseThreshold when one is set. Conditions compare values but cannot compute, and the metric (RMSE, AUC,
    weighted F1, ...) is known only once Preprocess settled the problem type, so Evaluate writes the gate block: the
    candidate's score and the scores it must reach, all higher-is-better (gate.*_score), the same in the metric's
    own units for people, and the verdict: which check refused, with the difference and its interval."""

    def reported(path: str) -> JsonGet:
        return JsonGet(step_name=evaluate.name, property_file=report, json_path=path)

    score = reported("gate.candidate_score")
    message = Join(
        on="",
        values=[
            "Quality gate refused the model: ",
            reported("gate.verdict"),
            "; candidate ",
            reported("gate.measured"),
            " ",
            reported("gate.metric_label"),
            " ",
            reported("gate.candidate"),
            "; baseline ",
            reported("gate.metric_label"),
            " ",
            reported("gate.baseline"),
            " (limit ",
            reported("gate.baseline_limit"),
            "); champion ",
            reported("gate.metric_label"),
            " ",
            reported("gate.champion"),
            " (limit ",
            reported("gate.champion_limit"),
            "); absolute RmseThreshold ",
            params.rmse_threshold,
            " (0 = off; regression only); ",
            reported("gate.advice"),
        ],
    )
    return ConditionStep(
        name="CheckQuality",
        conditions=[
            # Each check's required score is the error its rule lets the candidate have, from the paired bootstrap:
            # clearly better than the trivial baseline (strictly), not clearly worse than the limits.
            ConditionGreaterThan(left=score, right=reported("gate.signal_required_score")),
            ConditionGreaterThanOrEqualTo(left=score, right=reported("gate.baseline_required_score")),
            ConditionGreaterThanOrEqualTo(left=score, right=reported("gate.champion_required_score")),
            # The absolute threshold is optional (0 = off): it is in the target's units, which only the user knows.
            # gate.regression_rmse is the candidate's RMSE, 0 for classification (the threshold does not apply).
            ConditionOr(
                conditions=[
                    ConditionEquals(left=params.rmse_threshold, right=0.0),
                    ConditionLessThanOrEqualTo(left=reported("gate.regression_rmse"), right=params.rmse_threshold),
                ]
            ),
        ],
        if_steps=[register],
        else_steps=[FailStep(name="QualityTooLow", error_message=message)],
    )


def _instance_type_check(spec: PipelineSpec, params: _Parameters, steps: list) -> ConditionStep:
    """Run `steps` only if the instance-type parameters keep their defaults' storage kind.

    Whether a job gets a VolumeKmsKeyId is fixed when the definition is built, from the default types; AWS refuses
    the key for types with NVMe instance storage, and an EBS type without it would not use the data key. An
    execution that overrides a type with one of the other kind is refused up front with one sentence."""
    # (parameter, its default); each parameter is named like the request field whose instance types it takes.
    overrides = [
        (params.processing_type, spec.processing_instance_type),
        (params.training_type, spec.training_instance_type),
    ]
    refused = [
        ConditionIn(value=parameter, in_values=_other_kind(default, parameter.name)) for parameter, default in overrides
    ]
    rules = "; ".join(
        f"{parameter.name} must be {'a type with' if has_instance_storage(default) else 'a type without'} NVMe "
        f"instance storage, like its default {default}"
        for parameter, default in overrides
    )
    message = Join(
        on="",
        values=[
            "Instance types refused (ProcessingInstanceType ",
            params.processing_type,
            ", TrainingInstanceType ",
            params.training_type,
            f"): {rules}. This pipeline sets the jobs' VolumeKmsKeyId from its default types, and AWS refuses a "
            "volume key for types with instance storage; to switch kinds, change processing_instance_type or "
            "training_instance_type in the settings and redeploy.",
        ],
    )
    return ConditionStep(
        name="CheckInstanceTypes",
        conditions=[ConditionOr(conditions=refused)],
        if_steps=[FailStep(name="InstanceTypeRefused", error_message=message)],
        else_steps=steps,
    )


def _other_kind(default: str, shape: str) -> list[str]:
    """SageMaker's known instance types for this request field (botocore's service model) whose storage kind
    differs from the default's."""
    known = botocore.session.get_session().get_service_model("sagemaker").shape_for(shape).enum
    return sorted(t for t in known if has_instance_storage(t) != has_instance_storage(default))
