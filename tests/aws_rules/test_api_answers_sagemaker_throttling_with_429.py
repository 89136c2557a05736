"""SageMaker's "Common Errors" list ThrottlingException as HTTP 400, and SageMaker Runtime sends it with no text: the
body is {"message": null}, the error type only in a header (opensearch-project/ml-commons#2429 and #2438; the Java
SDK reports "null (Status Code: 400; Error Code: ThrottlingException)"). An integration response template reads the
body, not the integration response's headers, so the API's 400 response takes a 4xx without a message, or one that
says it was throttled, for throttling: a 429 telling the caller to back off, as the README promises, not a 400
"validation" error. ModelNotReadyException is InvokeEndpoint's own 429 (service model) and stays one."""

import pytest

from tests.aws_rules.predictions_api import api_answer

BUSY = {"message": "the endpoint is busy: retry with backoff"}


@pytest.mark.parametrize(
    "body", [{"message": None}, {}, {"Message": "Rate exceeded"}, {"message": "Request throttled"}], ids=str
)
def test_throttling_is_a_429(realtime_app, body):
    assert api_answer(realtime_app, 400, body) == (429, BUSY)


def test_a_model_not_ready_is_a_429(realtime_app):
    assert api_answer(realtime_app, 429, {"Message": "The model is still loading."}) == (429, BUSY)
