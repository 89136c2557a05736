"""Least privilege for image pulls: the job role pulls only the framework images' repositories, in the AWS accounts
that publish them in the deploying region (the account in each image URI, <account>.dkr.ecr.<region>...), never a
repository of any account (`*`)."""

import re

import pytest

from tests.aws_rules.template_iam import actions, flat, role_id, role_statements

PULLS = {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}
IMAGE_URI = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.[a-z0-9.]+/([^:]+):")


@pytest.fixture(params=["sklearn_app", "pytorch_app", "instance_store_app"])
def training(request) -> dict:
    return request.getfixturevalue(request.param)["ScorelineTraining"]


def _pull_statements(training: dict) -> list[dict]:
    statements = role_statements(training, role_id(training, "JobRole"))
    return [s for s in statements if PULLS & set(actions(s))]


def _repository_arns(statement: dict) -> list[list]:
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return [resource["Fn::Join"][1] for resource in resources]


def test_pulls_name_repositories_in_mapped_accounts_only(training):
    pulls = _pull_statements(training)
    assert len(pulls) == 1 and set(actions(pulls[0])) == PULLS
    for parts in _repository_arns(pulls[0]):
        assert parts[:4] == ["arn:", {"Ref": "AWS::Partition"}, ":ecr:", {"Ref": "AWS::Region"}]
        mapping, region, key = parts[5]["Fn::FindInMap"]
        assert (mapping, region) == ("ImageAccounts", {"Ref": "AWS::Region"})
        assert parts[6].startswith(":repository/") and "*" not in parts[6]
    assert '"*"' not in flat(pulls[0]["Resource"]) and ":*:" not in flat(pulls[0]["Resource"])


def test_mapped_accounts_are_those_of_every_image_in_every_region(training):
    images, accounts = training["Mappings"]["FrameworkImages"], training["Mappings"]["ImageAccounts"]
    arns = _repository_arns(_pull_statements(training)[0])
    key_of_repository = {parts[6].removeprefix(":repository/"): parts[5]["Fn::FindInMap"][2] for parts in arns}
    assert set(images) == set(accounts)
    for region, uris in images.items():
        for uri in uris.values():
            account, uri_region, repository = IMAGE_URI.match(uri).groups()
            assert uri_region == region
            assert accounts[region][key_of_repository[repository]] == account, (region, uri)
