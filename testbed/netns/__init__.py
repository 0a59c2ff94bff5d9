"""Network namespaces and the network changes the ICE-restart tests and benchmark play out."""
