"""StopTransformJob for moto 5.2.5's SageMaker stand-in, which lacks it."""

from __future__ import annotations

from moto.core.responses import EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeTransformJob, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

_STOPPABLE = ("InProgress", "Stopping")


def _backend_stop_transform_job(self: SageMakerModelBackend, transform_job_name: str) -> None:
    job = self.transform_jobs.get(transform_job_name)
    if job is None:
        arn = FakeTransformJob.arn_formatter(transform_job_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find transform job '{arn}'.")
    if job.transform_job_status in _STOPPABLE:  # a finished job keeps its final status
        job.transform_job_status = "Stopped"
        job.transform_end_time = job.last_modified_time = utcnow()


def _response_stop_transform_job(self: SageMakerResponse) -> EmptyResult:
    self.sagemaker_backend.stop_transform_job(self._get_param("TransformJobName"))
    return EmptyResult()


def add_stop_transform_job() -> None:
    """Teach moto's SageMaker backend and responses StopTransformJob; calling it again changes nothing.

    Patching the classes covers both `mock_aws()` and a ThreadedMotoServer running in the same process.
    """
    if not hasattr(SageMakerModelBackend, "stop_transform_job"):
        SageMakerModelBackend.stop_transform_job = _backend_stop_transform_job
    if not hasattr(SageMakerResponse, "stop_transform_job"):
        SageMakerResponse.stop_transform_job = _response_stop_transform_job
