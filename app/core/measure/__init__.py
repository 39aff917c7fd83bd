"""Measuring quants: perplexity, KL divergence, speed, memory; stored results."""
