"""Publishing the camera to media servers over WHIP: one stream to a server that fans out.

``whip``: the HTTP requests (RFC 9725). ``session``: one peer connection that
sends the hubs' packets as they are, as the offerer. ``target``: one
``[[publish]]`` table kept publishing through trouble (back-off, ICE restart,
a new session). ``targets``: all of them, for the daemon.
"""
