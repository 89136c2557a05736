"""EventBridge: events matched against the deployed rules and delivered to their targets."""
