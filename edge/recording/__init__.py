"""Recording clips around triggers: a pre-trigger ring of encoded media, fragmented MP4
files muxed from the very same access units (no re-encoding), and their retention."""
