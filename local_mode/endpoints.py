"""Real-time endpoints in the local cloud: UpdateEndpoint for moto 5.2.5's SageMaker stand-in, which lacks it.

moto's CreateEndpoint puts an endpoint InService at once; UpdateEndpoint here does the same with the new
configuration (a deployment that succeeds instantly) and keeps the DeploymentConfig it was given, as DescribeEndpoint
returns it (LastDeploymentConfig). A rollback is SageMaker's own decision, so tests that need one set the endpoint
back themselves.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

# UpdateEndpoint: "You must wait for the endpoint to be InService (or Failed) before calling UpdateEndpoint"
# is how AWS answers an update of an endpoint in progress (ValidationException).
_UPDATABLE = ("InService", "Failed")


def _backend_update_endpoint(
    self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, deployment_config: dict | None
) -> FakeEndpoint:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    if endpoint.endpoint_status not in _UPDATABLE:
        raise ValidationError(message=f"Cannot update in-progress endpoint '{endpoint.arn}'.")
    config = self.describe_endpoint_config(endpoint_config_name)  # ValidationError when it does not exist
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.last_deployment_config = deployment_config
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()
    return endpoint


def _response_update_endpoint(self: SageMakerResponse) -> ActionResult:
    endpoint = self.sagemaker_backend.update_endpoint(
        self._get_param("EndpointName"), self._get_param("EndpointConfigName"), self._get_param("DeploymentConfig")
    )
    return ActionResult({"EndpointArn": endpoint.arn})


def add_update_endpoint() -> None:
    """Teach moto's SageMaker backend and responses UpdateEndpoint; calling it again changes nothing."""
    if not hasattr(SageMakerModelBackend, "update_endpoint"):
        SageMakerModelBackend.update_endpoint = _backend_update_endpoint
    if not hasattr(SageMakerResponse, "update_endpoint"):
        SageMakerResponse.update_endpoint = _response_update_endpoint
