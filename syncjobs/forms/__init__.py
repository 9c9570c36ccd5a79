"""Forms that build ADF JSON from what operators type."""
