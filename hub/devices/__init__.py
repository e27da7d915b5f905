"""The device domain: types, devices, latest state, history, events, presence, commands."""
