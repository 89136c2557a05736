"""The page's HTML: plain forms and tables, styles inline, no script. Every value that comes from AWS or the request
passes through `_e` (html.escape) or a chart that escapes its own text."""

from __future__ import annotations

from datetime import datetime
from html import escape

from registry import charts
from registry import evaluation as ev
from registry.aws import Version

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #1d2430; max-width: 1200px }
table { border-collapse: collapse; margin: .6em 0 1.2em } th, td { border: 1px solid #ccd3dd; padding: .3em .6em;
text-align: left; vertical-align: top } th { background: #eef2f7 } td.n { text-align: right;
font-variant-numeric: tabular-nums } code { font-size: .9em; word-break: break-all }
.status { padding: .1em .5em; border-radius: .8em; font-size: .9em; white-space: nowrap }
.Approved { background: #d7f0dc } .Rejected { background: #f6d7d7 } .PendingManualApproval { background: #fbecc6 }
.notice { background: #e6f0fb; padding: .6em 1em; border-left: 4px solid #1f5fa8 }
.problem { background: #fbe9e9; padding: .6em 1em; border-left: 4px solid #b03030 }
.mode { color: #5a6472; font-size: .9em } button { font-size: 1em; padding: .3em .9em; margin-right: .5em }
nav a { margin-right: 1em } .actions form { display: inline }
"""
STATUS_WORDS = {"PendingManualApproval": "Pending approval", "Approved": "Approved", "Rejected": "Rejected"}


def _e(value) -> str:
    return escape(str(value), quote=True)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else _e(value)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "–"


def _status(status: str) -> str:
    return f'<span class="status {_e(status)}">{_e(STATUS_WORDS.get(status, status))}</span>'


def layout(title: str, body: str, group: str, allow_approve: bool, notice: str = "") -> str:
    mode = "approving allowed" if allow_approve else "read-only (start with --allow-approve to approve)"
    notice_html = f'<p class="notice" role="status">{_e(notice)}</p>' if notice else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<nav><a href="/">Group {_e(group)}</a><span class="mode">{_e(mode)}</span></nav>'
        f"{notice_html}{body}</body></html>"
    )


def problem(sentence: str) -> str:
    return f'<h1>Something went wrong</h1><p class="problem" role="alert">{_e(sentence)}</p>'


# Group view ------------------------------------------------------------------------------------------------------
def group_view(group: str, versions: list[Version], evaluations: dict, champion: Version | None) -> str:
    if not versions:
        return f"<h1>Model package group {_e(group)}</h1><p>No version is registered yet: run the pipeline.</p>"
    lead = (
        f"Champion: version {champion.number} (the newest approved: later candidates must match it, and the "
        "schedule scores with it)."
        if champion
        else "No version is approved: the schedule has nothing to score with until you approve one."
    )
    rows = "".join(_group_row(version, evaluations.get(version.arn), champion) for version in versions)
    return (
        f"<h1>Model package group {_e(group)}</h1><p>{_e(lead)}</p>"
        "<table><tr><th>Version</th><th>Status</th><th>Created</th><th>Gate</th><th>Headline metric (test)</th>"
        f"<th>Role</th></tr>{rows}</table>{_compare_form(versions, champion)}"
    )


def _group_row(version: Version, evaluation, champion: Version | None) -> str:
    if isinstance(evaluation, Exception):
        gate, metric = "unknown", _e(evaluation)
    else:
        passed = ev.gate_passed(evaluation)
        gate = {True: "passed", False: "refused", None: "not recorded"}[passed]
        metric = _headline(evaluation)
    role = "champion; scored by the schedule" if champion and version.arn == champion.arn else ""
    return (
        f'<tr><td><a href="/versions/{version.number}">version {version.number}</a></td>'
        f"<td>{_status(version.status)}</td><td>{_when(version.created)}</td><td>{gate}</td>"
        f"<td>{metric}</td><td>{_e(role)}</td></tr>"
    )


def _headline(evaluation) -> str:
    found = ev.headline(evaluation)
    if found is None:
        return "no evaluation"
    name, value, deviation = found
    interval = f" ± {deviation:.2g}" if deviation is not None else ""
    return f"{_e(name)} {value:.4g}{interval}"


def _compare_form(versions: list[Version], champion: Version | None) -> str:
    if len(versions) < 2:
        return ""
    second = champion.number if champion and champion.number != versions[0].number else versions[1].number
    return (
        '<form method="get" action="/compare"><label>Compare version '
        f"{_select('a', versions, versions[0].number)}</label> <label>with {_select('b', versions, second)}</label> "
        "<button>Compare</button></form>"
    )


def _select(name: str, versions: list[Version], chosen: int) -> str:
    options = "".join(
        f'<option value="{v.number}"{" selected" if v.number == chosen else ""}>{v.number}</option>' for v in versions
    )
    return f'<select name="{name}">{options}</select>'


# Version view ----------------------------------------------------------------------------------------------------
def version_view(context: dict) -> str:
    """context: version, package, evaluation, champion (Version or None), manifest, runs, allow_approve."""
    version, package, evaluation = context["version"], context["package"], context["evaluation"]
    parts = [
        f"<h1>Version {version.number} {_status(version.status)}</h1>",
        f"<p>Registered {_when(version.created)}. {_e(package.get('ModelPackageDescription', ''))}</p>",
        _approval(package),
        _actions(version, context["allow_approve"]),
        f"<h2>Quality gate</h2><p>{_e(ev.gate_words(evaluation))}</p>",
        _metrics_table(evaluation, context["champion"]),
        _report(evaluation),
        _manifest(context["manifest"]),
        _containers(package),
        _runs(context["runs"]),
    ]
    if context["champion"] and context["champion"].number != version.number:
        champion = context["champion"].number
        parts.insert(
            3,
            f'<p><a href="/compare?a={version.number}&amp;b={champion}">Compare with the champion, '
            f"version {champion}</a></p>",
        )
    return "".join(parts)


def _approval(package: dict) -> str:
    said = package.get("ApprovalDescription")
    return f"<p>Approval description: {_e(said)}</p>" if said else ""


def _actions(version: Version, allow_approve: bool) -> str:
    if not allow_approve:
        return '<p class="mode">Read-only: this page was started without --allow-approve.</p>'
    buttons = []
    if version.status != "Approved":
        buttons.append(
            f'<form method="get" action="/versions/{version.number}/approve"><button>Approve…</button></form>'
        )
    if version.status != "Rejected":
        buttons.append(f'<form method="get" action="/versions/{version.number}/reject"><button>Reject…</button></form>')
    return f'<div class="actions">{"".join(buttons)}</div>'


def _metrics_table(evaluation, champion: Version | None) -> str:
    candidate = ev.metrics(evaluation)
    if not candidate:
        return "<p>This version carries no evaluation.json.</p>"
    baselines = ev.baselines(evaluation)
    champion_arn, champion_metrics = ev.champion(evaluation)
    header = "".join(f"<th>{_e(name)} (baseline)</th>" for name in baselines)
    rows = "".join(
        f"<tr><td>{_e(ev.label(name))}</td><td class=n>{_number(ev.number(entry))}</td>"
        + "".join(f"<td class=n>{_number(ev.number(values.get(name)))}</td>" for values in baselines.values())
        + f"<td class=n>{_number(ev.number(champion_metrics.get(name)))}</td></tr>"
        for name, entry in candidate.items()
    )
    rows_used = (evaluation or {}).get("row_count", "?")
    return (
        f"<h2>Evaluation</h2><p>On the same {_e(rows_used)} test rows; the champion's column is the version approved "
        f"when this one was trained: {_e(champion_arn)}.</p>"
        f"<table><tr><th>Metric</th><th>This version</th>{header}<th>Champion</th></tr>{rows}</table>"
    )


def _report(evaluation) -> str:
    gate = (evaluation or {}).get("gate", {})
    metric = gate.get("metric")
    values = []
    if metric:
        values.append(("this version", ev.number(ev.metrics(evaluation).get(metric))))
        values += [(name, ev.number(m.get(metric))) for name, m in ev.baselines(evaluation).items()]
        values.append(("champion", ev.number(ev.champion(evaluation)[1].get(metric))))
    shown = [(name, value) for name, value in values if value is not None]
    chart = charts.bars(f"Test {ev.label(metric or '')}", shown, highlight="this version") if shown else ""
    matrix = charts.confusion(ev.confusion_matrix(evaluation))
    scatter = charts.scatter_svg(ev.scatter_pairs(evaluation))
    curve = charts.roc_svg(*ev.roc(evaluation))
    shown_charts = " ".join(found for found in (chart, scatter, matrix, curve) if found)
    if not shown_charts:
        return ""
    return f'<h2>Evaluation report</h2><div class="charts">{shown_charts}</div>'


def _manifest(manifest: dict | None) -> str:
    if not manifest:
        return "<h2>Training data</h2><p>No training manifest was found for this version.</p>"
    files = manifest["files"]
    listed = "".join(f"<li><code>{_e(name)}</code></li>" for name in files[:50])
    more = f"<li>and {len(files) - 50} more</li>" if len(files) > 50 else ""
    return (
        f"<h2>Training data</h2><p>Manifest <code>{_e(manifest['uri'])}</code>, written by pipeline execution "
        f"<code>{_e(manifest['execution'])}</code>: {len(files)} file(s) under <code>{_e(manifest['prefix'])}</code>"
        f"</p><ul>{listed}{more}</ul>"
    )


def _containers(package: dict) -> str:
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    rows = "".join(
        f"<tr><td>{index}</td><td><code>{_e(c.get('Image', ''))}</code></td>"
        f"<td><code>{_e(c.get('ModelDataUrl', ''))}</code></td>"
        f"<td>{'<br>'.join(_e(f'{k}={v}') for k, v in sorted(c.get('Environment', {}).items()))}</td></tr>"
        for index, c in enumerate(containers, start=1)
    )
    return (
        "<h2>Containers (serial inference, in order)</h2><table><tr><th>#</th><th>Image</th><th>Model data</th>"
        f"<th>Environment</th></tr>{rows}</table>"
    )


def _runs(runs: list[dict]) -> str:
    if not runs:
        return "<h2>Scoring runs</h2><p>No transform job has scored with this version yet.</p>"
    rows = "".join(
        f"<tr><td><code>{_e(run['name'])}</code></td><td>{_e(run['status'])} {_e(run['failure'])}</td>"
        f"<td>{_when(run['created'])}</td><td class=n>{_e(_rows(run['rows']))}</td><td>{_e(_drift(run['drift']))}</td>"
        f"<td><code>{_e(run['input'])}</code></td><td><code>{_e(run['output'])}</code></td></tr>"
        for run in runs
    )
    return (
        "<h2>Scoring runs</h2><table><tr><th>Transform job</th><th>Status</th><th>Started</th><th>Rows</th>"
        f"<th>Drift</th><th>Input</th><th>Predictions</th></tr>{rows}</table>"
    )


def _rows(rows) -> str:
    return f"{rows:,}" if isinstance(rows, int) else (rows or "–")


def _drift(drift: dict | None) -> str:
    """drift.json in words (the drift check's: rows, checked, reason, drifted_features, prediction_drifted)."""
    if drift is None:
        return "no drift check"
    if "error" in drift:
        return drift["error"]
    if not drift.get("checked", True):
        return f"not judged: {drift.get('reason', '')}"
    drifted = list(drift.get("drifted_features", [])) + (["predictions"] if drift.get("prediction_drifted") else [])
    return f"drifted: {', '.join(map(str, drifted))}" if drifted else "no drift"


# Compare ---------------------------------------------------------------------------------------------------------
def compare_view(left: dict, right: dict) -> str:
    """Each side: version, package, evaluation, manifest."""
    sides = (left, right)
    names = list(dict.fromkeys([*ev.metrics(left["evaluation"]), *ev.metrics(right["evaluation"])]))
    rows = [
        ("Status", [_status(side["version"].status) for side in sides]),
        ("Created", [_when(side["version"].created) for side in sides]),
        ("Gate", [_e(ev.gate_words(side["evaluation"])) for side in sides]),
        ("Test rows", [_e((side["evaluation"] or {}).get("row_count", "–")) for side in sides]),
        *[
            (ev.label(name), [_number(ev.number(ev.metrics(side["evaluation"]).get(name))) for side in sides])
            for name in names
        ],
        ("Training manifest", [f"<code>{_e((side['manifest'] or {}).get('uri', '–'))}</code>" for side in sides]),
        *[(f"Container {i + 1}", [_container(side["package"], i) for side in sides]) for i in range(2)],
    ]
    header = "".join(
        f'<th><a href="/versions/{side["version"].number}">version {side["version"].number}</a></th>' for side in sides
    )
    body = "".join(
        f"<tr><th>{_e(name)}</th>{''.join(f'<td>{cell}</td>' for cell in cells)}</tr>" for name, cells in rows
    )
    title = f"Version {left['version'].number} compared with version {right['version'].number}"
    return f"<h1>{_e(title)}</h1><table><tr><th></th>{header}</tr>{body}</table>"


def _container(package: dict, index: int) -> str:
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    if index >= len(containers):
        return "–"
    container = containers[index]
    return f"<code>{_e(container.get('Image', ''))}</code><br><code>{_e(container.get('ModelDataUrl', ''))}</code>"


# Confirmation ----------------------------------------------------------------------------------------------------
ACTIONS = {"approve": "Approved", "reject": "Rejected"}


def confirm_view(group: str, version: Version, action: str, token: str) -> str:
    status = ACTIONS[action]
    effect = (
        "The scoring function then scores today's scoring input with it, and it becomes the champion later "
        "candidates must match."
        if action == "approve"
        else "Its running scoring jobs are stopped, and scheduled runs fall back to the newest version still approved."
    )
    return (
        f"<h1>{action.capitalize()} version {version.number}?</h1>"
        f"<p>This sets version {version.number} of {_e(group)} to <strong>{status}</strong> "
        f"(UpdateModelPackage, ModelApprovalStatus={status}). {_e(effect)}</p>"
        f'<form method="post" action="/versions/{version.number}/{action}">'
        f'<input type="hidden" name="token" value="{_e(token)}">'
        '<p><label>Approval description (optional)<br><textarea name="description" rows="3" cols="60" '
        'maxlength="1024"></textarea></label></p>'
        f'<button type="submit">{action.capitalize()} version {version.number}</button> '
        f'<a href="/versions/{version.number}">Cancel</a></form>'
    )
