"""SageMaker Runtime's service model names an InvokeEndpoint error's text `Message` (botocore's sagemaker-runtime
service-2.json, shape ValidationError; the Ruby SDK's location_name "Message"), and API Gateway's JSONPath is
case-sensitive. rest-json errors may also carry it as `message` (botocore's parser reads both), so the API's 400
response reads Message, then message: "Endpoint ... not found." (nothing approved yet) is the README's 503, and any
other ValidationError is a 400 with SageMaker's text."""

import botocore.session
import pytest

from tests.aws_rules.predictions_api import api_answer

NOT_FOUND = "Endpoint scoreline-realtime of account 123456789012 not found."
TOO_LARGE = "Request payload exceeds the 6 MB InvokeEndpoint limit."


def test_the_service_model_names_the_validation_errors_text_message():
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    assert list(model.shape_for("ValidationError").members) == ["Message"]


@pytest.mark.parametrize("field", ["Message", "message"])
def test_no_endpoint_yet_is_a_503(realtime_app, field):
    assert api_answer(realtime_app, 400, {field: NOT_FOUND}) == (
        503,
        {"message": "no model version is deployed yet: approve one"},
    )


@pytest.mark.parametrize("field", ["Message", "message"])
def test_another_validation_error_is_a_400_with_sagemakers_text(realtime_app, field):
    assert api_answer(realtime_app, 400, {field: TOO_LARGE}) == (400, {"message": TOO_LARGE})
