"""The MARTA CO2 cooling plant over Modbus TCP."""
