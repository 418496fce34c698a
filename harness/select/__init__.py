"""Candidates to one patch per instance: signals, rules and a fitted combiner, with held-out evaluation.
Never reads the answer key.

May import `route`, `analysis`, `scoring`, `pipeline`, `agent` and the leaves.
"""
