"""Every journey the README marks is walked by a test, so a new one cannot go untested."""

from tests.journeys import test_demo_journeys, test_serve_journeys
from tests.journeys.readme import journeys


def test_every_journey_the_readme_marks_is_walked_by_a_test():
    assert set(journeys()) == test_demo_journeys.WALKED | test_serve_journeys.WALKED
