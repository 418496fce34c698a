"""The test suite: a folder per stage of harness/, each with its kit of shared helpers; fixtures in conftest.py."""
