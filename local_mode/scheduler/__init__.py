"""EventBridge Scheduler: deployed schedules on their cron or rate, and one-time schedules made at run time."""
