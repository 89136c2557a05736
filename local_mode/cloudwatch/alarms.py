"""CloudWatch alarm actions: an alarm going into ALARM publishes to its actions as cloudwatch.amazonaws.com, with the
alarm's ARN as aws:SourceArn, so the topic's policy and key policy must allow it (SNS, "Enable compatibility between
event sources from AWS services and encrypted topics").

LIMITATIONS: alarms fire only when asked (`LocalCloud.alarm`); no metric is evaluated."""

from __future__ import annotations

import logging
from typing import Any

from local_mode.events.targets import Targets
from local_mode.iam.evaluator import AccessDenied
from local_mode.model import Deployment, Target

log = logging.getLogger("local_mode")
CLOUDWATCH = "cloudwatch.amazonaws.com"


class AlarmActions:
    def __init__(self, deployment: Deployment, targets: Targets, invocations: list[dict[str, Any]]):
        self._deployment = deployment
        self._targets = targets
        self._invocations = invocations

    def alarm(self, name: str, reason: str) -> None:
        """An alarm going into ALARM: its actions publish as cloudwatch.amazonaws.com; a topic whose policy or key
        refuses it gets nothing, and the alarm's history records the failed action (CloudWatch, "Alarm actions")."""
        alarm = self._deployment.alarms[name]
        message = {"AlarmName": name, "AlarmArn": alarm.arn, "NewStateValue": "ALARM", "NewStateReason": reason}
        for action in alarm.actions:
            try:
                self._targets.authorize_service_delivery(CLOUDWATCH, action, alarm.arn, with_source_in_key_context=True)
            except AccessDenied as denial:
                log.warning("alarm %s: failed to execute action %s: %s", name, action, denial)
                self._invocations.append({"target": action, "source": f"alarm {name}", "error": str(denial)})
                continue
            self._targets.send(Target(arn=action), message, f"alarm {name}")
