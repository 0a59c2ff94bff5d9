"""The rig that tests and benchmarks share (not part of the product): the daemon as a
subprocess, Debian's Chromium, recorded clips read back, synthetic media, network
namespaces with their scenarios. ``tests/`` asserts with it; ``bench/`` measures with it.
"""
