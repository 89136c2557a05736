"""Builds the Scoreline training pipeline definition with the SageMaker Python SDK (importable without CDK)."""
