"""dmft layer of learning-mechanics (see README)."""
