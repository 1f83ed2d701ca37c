"""Generic MQTT environment boards: the ESP32 boards' extra chips (DS18B20, SCD30, CCS811)."""
