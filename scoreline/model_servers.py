"""How many requests a scoring job sends an instance at once, and how many model-server workers, each with how many
threads, every serving container runs: together they use each vCPU of the instance type once (README, "How scoring
uses an instance"). No CDK import; the scoring and serving stacks pass the result to their functions.

What the framework images do with these settings (read in the toolkits' source):
- The scikit-learn (1.4-2-py312) and XGBoost (3.0-5) images serve one model with gunicorn through sagemaker-containers
  2.8.6.post2 (their `serve` entry points, sagemaker_sklearn_container/serving.py:150-159 and
  sagemaker_xgboost_container/serving.py:158-169, start MMS only with SAGEMAKER_MULTI_MODEL): `gunicorn -w <workers>`
  (sagemaker_containers/_server.py:103-104), workers = SAGEMAKER_MODEL_SERVER_WORKERS, by default
  multiprocessing.cpu_count(), one per vCPU (_env.py:901 and 309). Each worker is a process holding its own model.
- The PyTorch (2.6.0) image serves with TorchServe through sagemaker-pytorch-inference: the same variable becomes
  TorchServe's default_workers_per_model (sagemaker_pytorch_serving_container/torchserve.py:130); unset, TorchServe
  starts one worker per GPU, else one per processor (pytorch/serve ConfigManager.java:566-580, used for the model
  loaded at start-up in ModelServer.java:172).
- Threads per worker: scikit-learn's HistGradientBoosting predicts with OpenMP on `_openmp_effective_n_threads()`
  threads, omp_get_max_threads() when OMP_NUM_THREADS is set, else as many as the CPU's physical cores
  (scikit-learn 1.4.2, ensemble/_hist_gradient_boosting/gradient_boosting.py:1279, utils/_openmp_helpers.pyx);
  XGBoost's predictor takes min(omp_get_num_procs(), omp_get_max_threads()) (xgboost src/common/threading_utils.cc,
  OmpGetNumThreads), and the XGBoost image sets OMP_NUM_THREADS=1 only when it is unset
  (sagemaker_xgboost_container/serving.py:46-60); PyTorch's intra-op pool takes OMP_NUM_THREADS unless
  MKL_NUM_THREADS, which the PyTorch image does not set, overrides it (pytorch aten/src/ATen/ParallelCommon.cpp,
  intraop_default_num_threads; the image's MKL_THREADING_LAYER=GNU runs MKL on the same OpenMP); numpy's OpenBLAS
  falls back to OMP_NUM_THREADS when OPENBLAS_NUM_THREADS and GOTO_NUM_THREADS are unset (OpenBLAS
  driver/others/memory.c, blas_get_cpu_number). So OMP_NUM_THREADS alone sets every library's threads.

Without MaxConcurrentTransforms, SageMaker asks the container's execution-parameters endpoint and otherwise sends one
request at a time (CreateTransformJob MaxConcurrentTransforms: "If the execution-parameters endpoint is not enabled,
the default value is 1"); these images offer that endpoint only for a handler module that defines
execution_parameters_fn (sagemaker_sklearn_container/serving.py:111-112, sagemaker_containers/_worker.py:107-111),
which Scoreline's handlers do not. So the scoring function always sets it.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoreline.instance_types import gpus, is_gpu, vcpus
from scoreline.settings import MAX_IN_FLIGHT_MB, Settings


@dataclass(frozen=True)
class ModelServer:
    """One serving container's model server: its worker processes (None: the image's own default) and the threads
    each worker's libraries use."""

    workers: int | None
    threads: int

    def environment(self) -> dict[str, str]:
        """The container variables the images' toolkits and libraries read (see the module docstring)."""
        workers = {} if self.workers is None else {"SAGEMAKER_MODEL_SERVER_WORKERS": str(self.workers)}
        return {**workers, "OMP_NUM_THREADS": str(self.threads)}


@dataclass(frozen=True)
class Serving:
    """Requests in flight per instance, and the two serving containers (features, then model)."""

    concurrency: int
    features: ModelServer
    model: ModelServer

    def container_environments(self) -> list[dict[str, str]]:
        return [self.features.environment(), self.model.environment()]


def transform_serving(settings: Settings) -> Serving:
    """A scoring job: transform_max_concurrent requests per instance, or with 0 (automatic) one per vCPU as far as
    concurrency x MaxPayloadInMB stays within 100 MB."""
    concurrency = settings.transform_max_concurrent or min(
        vcpus(settings.transform_instance_type), MAX_IN_FLIGHT_MB // settings.transform_max_payload_mb
    )
    return _serving(settings, settings.transform_instance_type, concurrency)


def realtime_serving(settings: Settings) -> Serving:
    """The real-time endpoint: as many requests at once as the instance has vCPUs, one thread each."""
    return _serving(settings, settings.realtime_instance_type, vcpus(settings.realtime_instance_type))


def _serving(settings: Settings, instance_type: str, concurrency: int) -> Serving:
    """One worker per request in flight in each container, sharing the vCPUs out as threads: with a request in every
    worker, workers x threads <= vCPUs (equal when the concurrency divides them). A serial request is in one
    container at a time, so both containers may have as many workers without the instance running more requests at
    once than `concurrency`."""
    features = ModelServer(workers=concurrency, threads=max(1, vcpus(instance_type) // concurrency))
    return Serving(concurrency, features, _model_server(settings, instance_type, features))


def _model_server(settings: Settings, instance_type: str, cpu_server: ModelServer) -> ModelServer:
    """The model container's server. PyTorch on a GPU type predicts on the GPU: one worker per GPU, TorchServe's own
    default (each worker holds the model and a CUDA context in GPU memory), one thread each, as the predict runs on
    the GPU; for a GPU family whose count is not known the image's default stands. The PyTorch image is the GPU build
    only when transform_instance_type is a GPU type (pipeline_definitions/images.py), so a GPU real-time type with a
    CPU transform type predicts on the CPU. On a type with several GPUs the workers all use the first: TorchServe
    assigns each a GPU, but the toolkit passes it only to a model_fn that takes a context argument
    (sagemaker-pytorch-inference's sagemaker_inference/transformer.py:272-284, model_fn called at 192), and the
    PyTorch handler's does not.
    scikit-learn predicts on the CPU, and so does XGBoost: the saved model holds the trees and objective, not the
    training's device (XGBoost "Introduction to Model IO")."""
    on_gpu = settings.model_flavour == "pytorch" and is_gpu(settings.transform_instance_type) and is_gpu(instance_type)
    return ModelServer(workers=gpus(instance_type), threads=1) if on_gpu else cpu_server
