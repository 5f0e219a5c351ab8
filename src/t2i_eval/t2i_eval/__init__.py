"""Evaluation at scale: discrete-event simulation (simulation.py) and validation against measured records."""
