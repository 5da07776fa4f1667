"""What notifier is measured against: the seed's obvious handler and a Powertools handler."""
