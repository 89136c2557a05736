"""CloudFormation: the synthesized cloud assembly read and deployed into moto."""
