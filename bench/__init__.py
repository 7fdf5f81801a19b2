"""Benchmarks, run on purpose (never by the test suite). See README "Speed and scale"."""
