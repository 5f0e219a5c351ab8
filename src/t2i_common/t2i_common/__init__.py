"""Shared helpers of the text-to-image graph: message/numpy conversion, QoS profiles, link bandwidth estimation."""
