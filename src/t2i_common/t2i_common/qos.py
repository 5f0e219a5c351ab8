"""QoS profiles and topic names shared by every node of the graph, so both ends of a topic always match."""
from rclpy.duration import Duration
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile,
                       ReliabilityPolicy)

# Requests, configs, latents, patches and results: RELIABLE (BEST_EFFORT silently loses multi-MB messages)
# and KEEP_ALL, because a KEEP_LAST depth smaller than a burst of K requests x G*G patches would silently
# drop patches. Fast DDS bounds KEEP_ALL by its resource limits and then blocks the writer: back-pressure,
# not loss.
DATA = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE,
                  durability=DurabilityPolicy.VOLATILE)

# Latest-value topics (link statistics, debug images): a late joiner wants the last sample, nothing older.
LATEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.TRANSIENT_LOCAL)

# Progress is advisory: losing one update is harmless.
PROGRESS = QoSProfile(depth=50, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


def heartbeat(lease_s: float) -> QoSProfile:
    """Liveliness-checked profile: a subscriber learns within ``lease_s`` that its publisher's process died."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                      liveliness=LivelinessPolicy.AUTOMATIC,
                      liveliness_lease_duration=Duration(seconds=lease_s))


class Topics:
    """Topic names (relative, so a namespace or remapping moves the whole graph)."""
    REQUESTS = 't2i/requests'
    CONFIGS = 't2i/configs'
    LATENTS = 't2i/latents'
    FOREGROUND_PATCHES = 't2i/patches/foreground'
    BACKGROUND_PATCHES = 't2i/patches/background'
    UPSCALED_PATCHES = 't2i/patches/upscaled'              # to the device's stitcher
    EDGE_UPSCALED_PATCHES = 't2i/patches/upscaled_on_edge'  # to the edge's fallback stitcher (device gone)
    RESULTS = 't2i/results'
    IMAGES = 't2i/images'
    PROGRESS = 't2i/progress'
    LINK_STATS = 't2i/link_stats'
    PARTITION_DEBUG = 't2i/debug/partition'
    DEVICE_AVAILABLE = 't2i/device_available'
    ACTION = 't2i/generate_image'
