"""Outbound adapters: SES, S3, CloudWatch and DynamoDB, and null state stores. botocore and
tenacity live here (and in the composition roots that build the clients), nowhere else."""
