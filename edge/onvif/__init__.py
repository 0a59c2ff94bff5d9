"""ONVIF Profile S: the device, media and events services Home Assistant and NVRs find and use."""
