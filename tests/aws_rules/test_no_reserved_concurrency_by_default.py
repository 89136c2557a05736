"""A function's reserved concurrency comes out of the account's concurrency quota, and Lambda keeps a minimum of it
unreserved: in a new account (quota 10) any reservation is refused and the stack cannot be created (Lambda developer
guide: "Configuring reserved concurrency"). The scoring function reserves none unless the setting asks for it."""

from tests.synth_helpers import main_function, synth


def test_the_scoring_function_reserves_no_concurrency_by_default(app_templates):
    function = main_function(app_templates["ScorelineScoring"])["Properties"]
    assert "ReservedConcurrentExecutions" not in function


def test_a_reservation_is_made_only_when_the_setting_asks(tmp_path):
    scoring = synth(tmp_path, scoring_reserved_concurrency=5)["ScorelineScoring"]
    assert main_function(scoring)["Properties"]["ReservedConcurrentExecutions"] == 5
