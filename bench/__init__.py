"""Benchmarks: each measures a stage against a baseline in the same command, with peak memory."""
