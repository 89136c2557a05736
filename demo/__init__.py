"""The demo, `serve` and `fire-schedule` commands: users of the local cloud (local_mode/), as benchmarks/ is one."""
