"""Built-in integrations, each found through the station_hub.integrations entry points."""
