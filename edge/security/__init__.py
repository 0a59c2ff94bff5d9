"""Access control (one token, browser sessions), brute-force slowing, and TLS."""
