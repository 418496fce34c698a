"""Tests of harness/analysis: tables, the report, the run browser, replays; helpers in analysiskit."""
