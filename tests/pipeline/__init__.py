"""Tests of harness/pipeline: config, dataset, iterations, run folder, pulls, executors; helpers in pipelinekit."""
