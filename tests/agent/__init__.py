"""Tests of harness/agent: one agent run (model, environment, tools, integrity checks, loop); helpers in agentkit."""
