"""What starts recordings: GPIO inputs here; the HTTP trigger lives with the API."""
