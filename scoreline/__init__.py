"""What the app is, CDK-free and SDK-free: its settings, flavours and image versions (settings.py), the data
bucket's layout (layout.py), the functions' environment variables (names.py), instance-type facts
(instance_types.py, model_servers.py), deterministic tarballs (tarballs.py) and what the pipeline is built from
(pipeline_spec.py). pipeline_definitions/, stacks/, local_mode/, demo/, benchmarks/ and the tests read it; the code
that ships alone (container_code/, functions/) keeps its own copies, which tests compare with these."""
