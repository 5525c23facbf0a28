"""The environment model: the service catalog, profiles and the resolved environment spec."""
