"""Tests of harness/tasks: the bundled tasks as SWE-bench rows and the images they run in."""
