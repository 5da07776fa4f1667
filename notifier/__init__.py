"""notifier: the shared email notification service (SQS, SNS or direct call -> Amazon SES)."""
