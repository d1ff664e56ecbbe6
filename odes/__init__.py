"""odes layer of learning-mechanics (see README)."""
