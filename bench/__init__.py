"""`make bench`: notifier's figures beside baselines measured in the same run (bench/RESULTS.md)."""
