"""Tests of harness/route: routing issues to models, fitted and evaluated held out."""
