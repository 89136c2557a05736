"""Intrinsic functions and deployment order, as CloudFormation resolves them."""

import pytest

from local_mode.cloudformation.assembly import AssemblyError, Resolver, StackArtifact, deployment_order, read_assembly

TEMPLATE = {
    "Mappings": {"Images": {"eu-west-1": {"Sklearn": "sklearn-image-eu"}}},
    "Resources": {
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Rule": {"Type": "AWS::Events::Rule", "DependsOn": "Function", "Properties": {}},
        "Pipeline": {"Type": "AWS::SageMaker::Pipeline", "Properties": {"Body": {"Fn::Sub": "${Bucket} ${Role.Arn}"}}},
        "Bucket": {"Type": "AWS::S3::Bucket"},
    },
}


@pytest.fixture
def resolver():
    stack = StackArtifact(name="Training", template=TEMPLATE)
    resolver = Resolver(stack, account="123456789012", region="eu-west-1", exports={"Storage:Key": "key-arn"})
    resolver.refs.update(Bucket="data-bucket", Role="role-name")
    resolver.attributes["Role"] = {"Arn": "arn:aws:iam::123456789012:role/role-name"}
    return resolver


def test_sub_resolves_refs_attributes_pseudo_parameters_and_keeps_escaped_literals(resolver):
    text = {"Fn::Sub": ["${Bucket}/${Role.Arn}/${AWS::Region}/${AWS::AccountId}/${Extra}/${!Literal}", {"Extra": "x"}]}
    assert resolver.resolve(text) == (
        "data-bucket/arn:aws:iam::123456789012:role/role-name/eu-west-1/123456789012/x/${Literal}"
    )


def test_join_select_split_find_in_map_and_import(resolver):
    assert resolver.resolve({"Fn::Join": ["-", [{"Ref": "Bucket"}, "logs"]]}) == "data-bucket-logs"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert resolver.resolve({"Fn::FindInMap": ["Images", {"Ref": "AWS::Region"}, "Sklearn"]}) == "sklearn-image-eu"
    assert resolver.resolve({"Fn::ImportValue": "Storage:Key"}) == "key-arn"


def test_no_value_drops_the_property(resolver):
    assert resolver.resolve({"A": {"Ref": "AWS::NoValue"}, "B": 1}) == {"B": 1}


def test_unresolvable_references_name_what_is_missing(resolver):
    with pytest.raises(AssemblyError, match="Fn::ImportValue Storage:Other"):
        resolver.resolve({"Fn::ImportValue": "Storage:Other"})
    with pytest.raises(AssemblyError, match="Ref to Queue"):
        resolver.resolve({"Ref": "Queue"})


def test_resources_come_after_what_they_reference_or_depend_on():
    order = deployment_order(TEMPLATE)
    assert order.index("Role") < order.index("Function") < order.index("Rule")
    assert order.index("Bucket") < order.index("Pipeline")
    assert sorted(order) == sorted(TEMPLATE["Resources"])


def test_missing_assembly_says_to_synthesize_first(tmp_path):
    with pytest.raises(AssemblyError, match="run `make synth`"):
        read_assembly(tmp_path)
