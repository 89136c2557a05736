"""What the scoring and serving dashboards share: a table of what a function logged, and the console URL users open
(the stacks' DashboardUrl outputs)."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_


def logged_lines(
    title: str, function: lambda_.Function, fields: str, *, where: str, limit: int, width: int = 6
) -> cloudwatch.LogQueryWidget:
    """The newest `limit` lines of `function`'s log that match `where`, with `fields`: the functions log one JSON
    line per decision, which CloudWatch Logs Insights reads as fields. `width` 6 is CloudWatch's default (of 24)."""
    return cloudwatch.LogQueryWidget(
        title=title,
        log_group_names=[function.log_group.log_group_name],
        query_lines=[f"fields @timestamp, {fields}", where, "sort @timestamp desc", f"limit {limit}"],
        width=width,
    )


def console_url(dashboard: cloudwatch.Dashboard) -> str:
    return (
        f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
        f"#dashboards/dashboard/{dashboard.dashboard_name}"
    )
