"""Environment sensors: temperature, humidity, dew point."""
