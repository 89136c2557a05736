"""The local API's mapping templates (local_mode/apigateway/vtl.py): API Gateway's variables and rules around the
airspeed Velocity engine, as the serving stack's templates rely on them, and refusals rather than misreadings."""

from __future__ import annotations

import json

import pytest

from local_mode.apigateway.vtl import VtlError, render_response


def test_a_null_or_unresolvable_reference_writes_nothing_and_is_the_empty_string():
    rendered = render_response("[$m] [$!m] [$util.toJson($m)] [$input.path('$.a').nope()]", '{"a": "x"}')
    assert rendered.body == "[] [] [] []"
    # localstack's AWS-validated test_input_path_template_formatting ("invalid-path"), as API Gateway answered it
    template = (
        """#set($result = $input.path("$.nonExisting")){"body": $result, "nested": $result.nested, """
        """"isNull": #if( $result == $null )"true"#else"false"#end, """
        """"isEmptyString": #if( $result == "" )"true"#else"false"#end}"""
    )
    assert render_response(template, "{}").body == '{"body": , "nested": , "isNull": "true", "isEmptyString": "true"}'


def test_input_path_reads_json_path_steps_and_is_null_for_what_is_missing():
    body = '{"a": {"b": [10, 20]}, "c d": "e", "n": null}'
    template = (
        """$input.path('$.a.b[1]') $input.path("$['c d']") $!input.path('$.n') $!input.path('$.x') $input.json('$.a')"""
    )
    assert render_response(template, body).body == '20 e   {"b": [10, 20]}'


def test_json_objects_write_as_java_maps_and_arrays_as_json():
    # the same AWS-validated test: {"foo": [{"nested": "bar"}]} at $ is {foo=[{"nested":"bar"}]}
    body = '{"foo": [{"nested": "bar"}], "n": null, "t": true}'
    template = "$input.path('$') $input.path('$.foo') $input.path('$.foo').get(0).nested $input.path('$').size()"
    assert render_response(template, body).body == '{foo=[{"nested":"bar"}], n=null, t=true} [{"nested":"bar"}] bar 3'


def test_velocity_runs_over_the_input():
    template = "#foreach($row in $input.path('$.rows'))$row.id#if($foreach.hasNext),#end#end"
    assert render_response(template, '{"rows": [{"id": 1}, {"id": 2}]}').body == "1,2"


def test_a_body_that_is_not_json_is_only_the_whole_path():
    assert render_response("$input.path('$')|$!input.path('$.a')|$input.body", "<html>").body == "<html>||<html>"


def test_the_status_and_header_overrides_are_the_answers():
    rendered = render_response(
        "#set($context.responseOverride.status = 429)\n#set($context.responseOverride.header.Retry-After = '1')\n{}",
        "{}",
    )
    assert (rendered.status, rendered.headers, rendered.body) == (429, {"Retry-After": "1"}, "{}")
    assert render_response("{}", "{}").status is None


@pytest.mark.parametrize("status", [99, 600, "429", True])
def test_a_status_override_that_is_no_status_code_is_refused(status):
    with pytest.raises(VtlError):
        render_response(f"#set($context.responseOverride.status = {json.dumps(status)})", "{}")


def test_an_override_applied_twice_is_refused():
    # "Overrides are final ... If you try to override the same parameter multiple times, API Gateway returns a 5XX"
    with pytest.raises(VtlError, match="overridden twice"):
        render_response(
            "#set($context.responseOverride.status = 400)\n#set($context.responseOverride.status = 429)", "{}"
        )


@pytest.mark.parametrize(
    "body, branch",
    [
        ('{"m": null}', "empty"),
        ('{"m": ""}', "empty"),
        ("{}", "empty"),
        ('{"m": "x not found"}', "missing"),
        ('{"m": "z"}', "other"),
    ],
)
def test_if_elseif_else_with_conditions_that_hold_in_velocity_1_7_and_2(body, branch):
    template = """#set($m = $input.path('$.m'))
#if(!$m || $m == "")
empty
#elseif($m.contains('not found'))
missing
#else
other
#end"""
    assert render_response(template, body).body.strip() == branch


def test_java_regular_expressions_match_the_whole_string_and_replace_with_dollar_groups():
    template = """#set($s = $input.path('$.s'))
$s.matches('row [0-9]+: .*') $s.matches('row') $s.replaceAll('(?s)^.*?(row [0-9]+)[^\\n"]*.*$', '<$1>')"""
    assert render_response(template, '{"s": "row 2: bad\\nTraceback"}').body == "false false <row 2>"
    assert render_response(template, '{"s": "row 2: bad"}').body == "true false <row 2>"


def test_double_quoted_strings_are_templates_and_single_quoted_ones_are_not():
    template = """#set($code = $input.path('$.code'))
#set($written = '$code')
#if("$!code" != "")$code#{else}none#end $written"""
    assert render_response(template, '{"code": 0}').body == "0 $code"
    assert render_response(template, "{}").body == "none $code"


def test_escape_javascript_then_undoing_the_quote_escape_is_a_json_string():
    text = 'it\'s "quoted" \\ a/b \t é 😀\nend\x01'
    template = """#set($m = $util.escapeJavaScript($input.path('$.m')).replaceAll("\\\\'", "'"))
{"message": "$m"}"""
    body = render_response(template, json.dumps({"m": text})).body
    assert json.loads(body) == {"message": text}
    assert "\\u00E9" in body and "\\uD83D\\uDE00" in body  # Commons Lang: every non-ASCII UTF-16 unit, upper case


@pytest.mark.parametrize(
    "template",
    [
        "$input.params('x')",
        "#if($a)x",
        "#end",
        "$input.path('$..a')",
        "$util.parseJson('not json')",
        "#parse('other.vm')",
    ],
)
def test_what_api_gateway_or_this_module_cannot_run_is_refused(template):
    with pytest.raises(VtlError):
        render_response(template, "{}")
