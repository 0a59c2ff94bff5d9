"""The daemon's JSON API (besides WHEP signaling)."""
