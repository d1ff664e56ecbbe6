"""replica layer of learning-mechanics (see README)."""
