"""`python -m demo demo|serve|fire-schedule`: the synthesized app on a local cloud, no AWS account."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from local_mode.cloudformation.assembly import AssemblyError
from scoreline.settings import FLAVOURS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train, register, approve and score on an embedded local cloud")
    demo.add_argument("--flavour", choices=FLAVOURS, default="sklearn")
    demo.add_argument(
        "--dataset",
        choices=["california", "iris", "breast-cancer"],
        default="california",
        help="bundled data: California housing (regression), iris (multiclass), breast cancer (binary)",
    )
    demo.add_argument("--data", type=Path, help="your own CSV with a header (instead of --dataset)")
    demo.add_argument("--target", help="the column of --data to predict")
    demo.add_argument(
        "--realtime",
        action="store_true",
        help="deploy the real-time endpoint and API too; end with one row's real-time and batch predictions",
    )
    _settings_argument(demo)
    demo.add_argument("--home", type=Path, default=Path(".scoreline/demo"), help="where the report and logs go")
    serve = commands.add_parser("serve", help="run the local cloud for the AWS CLI until stopped")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument("--cdk-out", type=Path, default=Path("cdk.out"), help="cloud assembly to deploy")
    serve.add_argument("--no-synth", action="store_true", help="deploy --cdk-out as it is")
    _settings_argument(serve)
    fire = commands.add_parser("fire-schedule", help="fire a deployed schedule of a running `serve` now")
    fire.add_argument("name", nargs="?", default="scoreline-scoring")
    fire.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    from demo.errors import DataError, DemoFailed

    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "serve":
            return _serve(args)
        return _fire(args)
    except DataError as error:
        print(f"{'demo' if args.command == 'demo' else 'local mode'}: {error}", file=sys.stderr)
        return 2
    except (DemoFailed, AssemblyError) as error:
        print(f"demo: failed: {error}" if args.command == "demo" else f"local mode: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError, OSError) as error:  # the local cloud's answer, in one sentence
        print(f"{args.command}: failed: {_one_line(str(error))}", file=sys.stderr)
        return 1


def _demo(args) -> int:
    from demo.flow import run_demo
    from demo.synth import parse_settings

    settings = parse_settings(args.context)
    result = run_demo(
        args.flavour,
        args.data,
        args.target,
        home=args.home.resolve(),
        settings=settings,
        dataset=args.dataset,
        realtime=args.realtime,
    )
    print(f"  evaluation report: {result.report}")
    print(result.summary_line())
    return 0


def _settings_argument(parser) -> None:
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="NAME=VALUE", help="a setting, as in cdk synth -c"
    )


def _serve(args) -> int:
    from demo.synth import parse_settings, synthesize
    from local_mode.cloud import LocalCloud

    if not args.no_synth:
        synthesize(args.cdk_out.resolve(), parse_settings(args.context))
    try:
        cloud = LocalCloud(Path(".scoreline") / "serve", port=args.port).start()
    except OSError as error:
        raise AssemblyError(f"{error}: choose another --port") from None
    deployment = cloud.deploy(args.cdk_out)
    cloud.start_schedules()
    print(f"local cloud on {cloud.endpoint} (region {cloud.region}, account 123456789012, any credentials)")
    print(f"  pipelines: {', '.join(deployment.pipelines)}; data bucket: {deployment.bucket_for('DataBucket')}")
    print(f"  schedules: {', '.join(deployment.schedules)}; logs and job folders under .scoreline/serve")
    print(f"  try: aws --endpoint-url {cloud.endpoint} sagemaker list-pipelines")
    # The cloud changes no environment: a shell that wants every SDK and CLI call to reach it sets these itself.
    print(f"  or, in your shell: export {' '.join(f'{name}={value}' for name, value in cloud.environment().items())}")
    api = _predictions_api(cloud, args.cdk_out, args.port)
    page = _registry_page(cloud, args.port)
    print("Ctrl-C stops it.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        if api:
            api.stop()
        page.stop()
        cloud.stop()
    return 0


def _predictions_api(cloud, cdk_out: Path, port: int):
    """The serving stack's API on the next port, when the app was synthesized with realtime=true."""
    from local_mode.apigateway.auth import rest_api_id
    from local_mode.apigateway.predictions import PredictionsApi

    if cloud.endpoints is None:
        return None
    api = PredictionsApi.for_cloud(cloud, cdk_out, port=port + 1 if port else 0).start()
    for stack in cloud.deployment.stacks:  # the PredictionsUrl output names this local API, as the README queries it
        stack.point_output(f"https://{rest_api_id(cdk_out)}.execute-api.", api.url)
    print(f"  predictions API: {api.url} (POST text/csv rows once a version is approved, signed with SigV4:")
    print(f'    curl --aws-sigv4 "aws:amz:{cloud.region}:execute-api" --user local:local ...)')
    return api


def _registry_page(cloud, port: int):
    """The registry page for the deployed group, two ports above the cloud's (the predictions API takes the next),
    as the local administrator with approving allowed: `python -m registry` with the cloud's endpoint."""
    import boto3

    from registry.aws import Registry
    from registry.server import RegistryPage

    group = cloud.deployment.environment_of_function_setting("MODEL_PACKAGE_GROUP_NAME")["MODEL_PACKAGE_GROUP_NAME"]
    environment = cloud.environment()
    session = boto3.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=cloud.region,
    )
    try:
        page = RegistryPage(Registry(group, session, cloud.endpoint), allow_approve=True, port=port + 2 if port else 0)
    except OSError as error:
        cloud.stop()
        raise AssemblyError(
            f"the registry page cannot listen on port {port + 2} ({error}): choose another --port"
        ) from None
    print(f"  registry page: {page.url} (group {group}, approving allowed)")
    return page.start()


def _fire(args) -> int:
    url = f"http://127.0.0.1:{args.port}/_local/schedules/{args.name}/fire"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=60) as response:
            print(response.read().decode().strip())
    except urllib.error.HTTPError as error:  # the server's answer is the sentence (e.g. no such schedule)
        answer = error.read().decode("utf-8", "replace").strip()
        if not answer or answer.lstrip().startswith("<"):  # an HTML error page: its status line says enough
            answer = f"the local cloud on port {args.port} answered HTTP {error.code} {error.reason}"
        raise AssemblyError(_one_line(answer)) from None
    except urllib.error.URLError as error:
        raise AssemblyError(
            f"no local cloud answers on port {args.port} ({error.reason}): start one with `make serve`"
        ) from None
    except TimeoutError:
        raise AssemblyError(f"the local cloud on port {args.port} did not answer within 60 s") from None
    return 0


def _one_line(text: str) -> str:
    """The first line of an error, so a server's answer never prints as a traceback."""
    return text.strip().splitlines()[0] if text.strip() else "no reason given"


if __name__ == "__main__":
    sys.exit(main())
