"""`python -m registry --group NAME`: the registry page for one model package group, on 127.0.0.1.

Credentials, region and endpoint are the AWS CLI's: the usual environment and configuration, or --profile,
--region and --endpoint-url. Read-only unless started with --allow-approve."""

from __future__ import annotations

import argparse
import logging
import sys

import boto3
from botocore.exceptions import BotoCoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m registry", description=__doc__)
    parser.add_argument("--group", required=True, help="the model package group, say scoreline-models")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: this machine only)")
    parser.add_argument("--endpoint-url", help="another AWS endpoint, as the AWS CLI's (say the local cloud's)")
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument(
        "--allow-approve", action="store_true", help="show Approve and Reject (UpdateModelPackage); off: read-only"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    from registry.aws import Registry
    from registry.server import RegistryPage

    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        page = RegistryPage(Registry(args.group, session, args.endpoint_url), args.allow_approve, args.host, args.port)
    except (BotoCoreError, OSError) as error:  # an unknown profile, a port in use: one sentence
        print(f"registry: {error}", file=sys.stderr)
        return 1
    mode = "approving allowed" if args.allow_approve else "read-only"
    print(f"registry page for {args.group}: {page.url} ({mode}); Ctrl-C stops it.", flush=True)
    try:
        page.serve_forever()
    except KeyboardInterrupt:
        page.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
