"""CAEN SY4527/SY5527 LV+HV power supply through its EPICS IOC."""
