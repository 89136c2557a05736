"""SageMaker: jobs, pipeline executions, batch transform and real-time endpoints run on this machine."""
