"""Tests of harness/workflow: the commands that chain stages."""
