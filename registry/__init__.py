"""The registry page: one model package group's versions, read and approved through the AWS API (README, "The
registry page"). boto3 only, no CDK or local_mode, so the same page works against a real account."""
