"""Rohde & Schwarz HMP power supplies (HMP4040 and its smaller siblings) as module LV."""
