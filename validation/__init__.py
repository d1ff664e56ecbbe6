"""validation layer of learning-mechanics (see README)."""
