"""The serial switchbox of the Lyon stand: relays that route LV to each module."""
