"""The MQTT bus: one small client API used by every service."""

from trackerdcs.bus.client import Bus, Message
from trackerdcs.bus.commands import BadCommand, Command, CommandRouter, Refused

__all__ = ["BadCommand", "Bus", "Command", "CommandRouter", "Message", "Refused"]
