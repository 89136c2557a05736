"""The local API's VTL engine (local_mode/apigateway/vtl.py): Velocity's rules that decide what a response template
writes, the API Gateway variables the serving stack's templates use, and refusals rather than misreadings."""

from __future__ import annotations

import json

import pytest

from local_mode.apigateway.vtl import VtlError, render_response


def test_a_null_reference_or_a_missing_method_is_written_as_it_stands_and_quiet_references_write_nothing():
    rendered = render_response("[$m] [$!m] [$util.toJson($m)] [$input.path('$.a').nope()]", '{"a": "x"}')
    assert rendered.body == "[$m] [] [$util.toJson($m)] [$input.path('$.a').nope()]"


def test_input_path_reads_json_path_steps_and_is_null_for_what_is_missing():
    body = '{"a": {"b": [10, 20]}, "c d": "e", "n": null}'
    template = (
        """$input.path('$.a.b[1]') $input.path("$['c d']") $!input.path('$.n') $!input.path('$.x') $input.json('$.a')"""
    )
    assert render_response(template, body).body == '20 e   {"b": [10, 20]}'


def test_a_body_that_is_not_json_is_only_the_whole_path():
    assert render_response("$input.path('$')|$!input.path('$.a')|$input.body", "<html>").body == "<html>||<html>"


def test_the_status_override_is_the_answers_status():
    rendered = render_response("#set($context.responseOverride.status = 429)\n{}", "{}")
    assert (rendered.status, rendered.body) == (429, "{}")
    assert render_response("{}", "{}").status is None


@pytest.mark.parametrize("status", [99, 600, "429", True])
def test_a_status_override_that_is_no_status_code_is_refused(status):
    with pytest.raises(VtlError):
        render_response(f"#set($context.responseOverride.status = {json.dumps(status)})", "{}")


@pytest.mark.parametrize(
    "body, branch",
    [('{"m": null}', "empty"), ('{"m": ""}', "empty"), ('{"m": "x not found"}', "missing"), ('{"m": "z"}', "other")],
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
    assert render_response(template, body).body == branch + "\n"


def test_lines_holding_only_directives_or_comments_leave_nothing():
    template = "  #set($a = 'x')\n## a comment\n  #if($a == 'x')\n  {\"a\": \"$a\"}\n  #end\n#* block *#\ndone"
    assert render_response(template, "{}").body == '  {"a": "x"}\ndone'


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
        "#foreach($a in $b)x#end",
        "#macro(m)x#end",
        "$input.params('x')",
        "#set($a = [1, 2])",
        "#if($a)x",
        "#end",
        "$input.path('$..a')",
        '#set($a = "#if(1)x#end")',
        "\\$a",
    ],
)
def test_what_the_engine_does_not_run_is_refused(template):
    with pytest.raises(VtlError):
        render_response(template, "{}")
