"""The API's error bodies are JSON whatever SageMaker's text holds. API Gateway's $util offers escapeJavaScript,
parseJson, urlEncode, urlDecode, base64Encode and base64Decode ("Variables for data transformations"); a function it
does not have, such as toJson, is null and writes nothing, with no error (API Gateway writes an unresolvable reference
as nothing). escapeJavaScript escapes ' as \\', which JSON does not allow, so the templates undo that one escape. A
row's message from the features container (quotes, a traceback after it) and any other 4xx SageMaker sends come back
as {"message": <its text>}; a status nothing selects is the default's 502, never a 200."""

import pytest

from tests.aws_rules.predictions_api import api_answer

ROW = "row 2: column 'age' has a non-numeric value 'x'"
AWKWARD = 'a "quoted" \\ back/slash, \ttab, é, 😀 and\nnewline'


def test_a_bad_row_is_a_400_naming_it(realtime_app):
    model_error = {
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
        "OriginalStatusCode": 500,
        "OriginalMessage": f"{ROW}\nTraceback (most recent call last): ...",
        "Message": f'Received server error (500) from primary with message "{ROW}".',
    }
    assert api_answer(realtime_app, 424, model_error) == (400, {"message": ROW})


def test_any_text_sagemaker_sends_comes_back_as_json(realtime_app):
    assert api_answer(realtime_app, 400, {"Message": AWKWARD}) == (400, {"message": AWKWARD})


@pytest.mark.parametrize("status", [401, 408, 409, 413, 415])
def test_another_4xx_is_a_400_with_sagemakers_text(realtime_app, status):
    assert api_answer(realtime_app, status, {"message": f"refused ({status})"}) == (
        400,
        {"message": f"refused ({status})"},
    )


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (424, {"OriginalStatusCode": 500, "OriginalMessage": "out of memory"}, 502),
        (302, "<html>moved</html>", 502),
        (503, {"Message": "Service Unavailable"}, 503),
        (403, {"message": "not authorized"}, 503),
    ],
)
def test_other_failures_are_502_or_503(realtime_app, status, body, expected):
    assert api_answer(realtime_app, status, body)[0] == expected
