"""Entry points: the Lambda handler and the CLI, each wired by bootstrap()."""
