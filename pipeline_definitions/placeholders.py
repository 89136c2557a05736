"""Stand-ins for deploy-time values while the SDK builds the definition.

Each is a literal the SDK accepts (an ARN, a bucket name, an object key, an image URI) and that appears nowhere
else in a definition, so the stack can swap it for a CloudFormation reference (`${Name}` in `Fn::Sub`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

_ACCOUNT = "111122223333"
_REGION = "xx-placeholder-1"
_ECR = f"{_ACCOUNT}.dkr.ecr.{_REGION}.amazonaws.com"


@dataclass(frozen=True)
class Placeholders:
    region: str = _REGION
    bucket: str = "scoreline-placeholder-bucket"
    role_arn: str = f"arn:aws:iam::{_ACCOUNT}:role/scoreline-placeholder-role"
    kms_key_arn: str = f"arn:aws:kms:{_REGION}:{_ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    asset_bucket: str = "scoreline-placeholder-assets"
    # Object keys apart from the bucket: a processing job runs its script under the key's own file name.
    preprocess_script_key: str = "placeholder-preprocess-script.py"
    evaluate_script_key: str = "placeholder-evaluate-script.py"
    features_code_key: str = "placeholder-features-code.tar.gz"
    model_code_key: str = "placeholder-model-code.tar.gz"
    # One image per use, so that each can be replaced by a custom image (settings *_image).
    preprocess_image: str = f"{_ECR}/scoreline-placeholder-preprocess-image:latest"
    features_image: str = f"{_ECR}/scoreline-placeholder-features-image:latest"
    training_image: str = f"{_ECR}/scoreline-placeholder-training-image:latest"
    evaluation_image: str = f"{_ECR}/scoreline-placeholder-evaluation-image:latest"
    inference_image: str = f"{_ECR}/scoreline-placeholder-inference-image:latest"
    training_data_function_arn: str = f"arn:aws:lambda:{_REGION}:{_ACCOUNT}:function:scoreline-placeholder-function"

    def asset_uri(self, key: str) -> str:
        return f"s3://{self.asset_bucket}/{key}"

    def substitution_names(self) -> dict[str, str]:
        """Placeholder literal -> the `Fn::Sub` variable the stack defines for it (longest literal first)."""
        names = {getattr(self, f.name): "".join(p.capitalize() for p in f.name.split("_")) for f in fields(self)}
        return dict(sorted(names.items(), key=lambda item: -len(item[0])))


PLACEHOLDERS = Placeholders()
