"""Connections to the plant floor: OPC UA (asyncua) and the batch engine's phase driver
over it; the MQTT unified namespace (paho-mqtt) with store-and-forward and the
historian's subscriber."""
