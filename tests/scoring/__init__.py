"""Tests of harness/scoring: official verdicts, isolated scoring, the verdict cache; helpers in scoringkit."""
