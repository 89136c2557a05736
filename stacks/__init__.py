"""Scoreline's CDK stacks, reusable constructs and typed settings."""
