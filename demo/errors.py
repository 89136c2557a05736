"""What stops the demo: a step that failed, or data the user must fix."""

from __future__ import annotations


class DemoFailed(RuntimeError):
    """The demo stopped at a step; the message names it and its reason."""


class DataError(DemoFailed):
    """--data or --target cannot be used as given: the user's to fix (exit status 2)."""
