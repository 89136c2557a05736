"""The registry page benchmark answers its three views on a group it registers in moto, and its table names them."""

from __future__ import annotations

from benchmarks import registry_page


def test_the_benchmark_times_the_group_and_version_views_of_the_versions_it_registers():
    figures = registry_page.measure(versions=4, repeats=1)
    assert figures["versions"] == 4 and figures["repeats"] == 1
    for view in ("group_view_first_seconds", "group_view_again_seconds", "version_view_seconds"):
        assert figures[view] > 0


def test_the_table_names_each_view():
    rows = registry_page.table_rows(
        {
            "versions": 100,
            "group_view_first_seconds": 0.9,
            "group_view_again_seconds": 0.02,
            "version_view_seconds": 0.03,
        }
    )
    assert rows[0] == ("registry page, group of 100 versions: group view, first (s)", "0.900", "")
    assert [row[0].rsplit(": ", 1)[1] for row in rows] == [
        "group view, first (s)",
        "group view, again (s)",
        "a version view (s)",
    ]
