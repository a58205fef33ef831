"""Evaluation: disentanglement_lib's metrics (exact scores), and the evaluate/postprocess steps."""
