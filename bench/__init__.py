"""Benchmarks: scripts that measure and print figures (not tests). See docs/benchmarks.md."""
