"""The README's `make demo` blocks, walked as written from a fresh copy of the repository with only loopback."""

import pytest

from tests.demo.test_demo import SUMMARY
from tests.journeys.readme import walked

WALKED = {"demo", "demo-variants"}


# Slow: make test's end-to-end journey is the serve session (the same synth, train, approve and score from a fresh
# copy, offline), which keeps the default run under 10 minutes on 2 cores.
@pytest.mark.slow
def test_make_demo(tmp_path):
    with walked(tmp_path, "demo") as session:
        last_line = session.outputs[-1].splitlines()[-1]
    assert SUMMARY.match(last_line), last_line
    assert float(SUMMARY.match(last_line).group(3)) <= 0.6


@pytest.mark.slow
def test_make_demo_variants(tmp_path):
    with walked(tmp_path, "demo-variants") as session:
        ran = zip(session.seconds, session.outputs, strict=True)  # (command, its seconds), its output
        endings = [output.splitlines()[-1] for (command, _), output in ran if command.startswith("make demo")]
    assert len(endings) == 9 and all(line.startswith("demo: ok ") for line in endings), endings
