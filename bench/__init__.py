"""Benchmarks: scripts that measure and print figures (not tests). See README "Benchmarks"."""
