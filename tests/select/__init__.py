"""Tests of harness/select: one patch per instance from the candidates, evaluated held out; helpers in selectkit."""
