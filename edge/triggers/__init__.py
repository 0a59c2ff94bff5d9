"""What starts recordings: GPIO inputs and motion here (built with the recorder in
``edge.recording.factory``); a clip asked for over HTTP or MQTT goes to the recorder directly."""
