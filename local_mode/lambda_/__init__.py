"""Lambda: each deployed function in its own execution environment, invoked as Lambda invokes it."""
