"""IAM: the deployed policies evaluated for every request a principal signs."""
