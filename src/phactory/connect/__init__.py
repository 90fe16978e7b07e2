"""Connections to the plant floor: OPC UA (asyncua) and the batch engine's phase driver
over it."""
