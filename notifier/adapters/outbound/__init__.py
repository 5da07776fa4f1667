"""Outbound adapters: SES, S3 and CloudWatch. boto3 and tenacity live here and nowhere else."""
