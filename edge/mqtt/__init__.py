"""MQTT: the camera as a Home Assistant device (discovery, states, a record button, a snapshot)."""
