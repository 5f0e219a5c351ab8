"""rosbag2 (mcap) record and replay of the graph's traffic with the `rosbags` library (rosbag2 itself is not
on PyPI). Bags written here open in `ros2 bag` on Jazzy and newer (metadata version 9).

    python -m t2i_bringup.bags make-requests OUT --count 10 [--period 0.5]   # PartiPrompts request bag
    python -m t2i_bringup.bags record OUT --until-results N [--timeout S]    # requests + results of a run
    python -m t2i_bringup.bags replay BAG [--rate 1.0]                       # requests at recorded timing
"""
from __future__ import annotations

import argparse
import importlib
import shutil
import threading
import time
from pathlib import Path

from t2i_common.qos import DATA, Topics

REQUEST_TYPE = 't2i_interfaces/msg/GenerationRequest'
RESULT_TYPE = 't2i_interfaces/msg/GenerationResult'
RECORDED = {Topics.REQUESTS: REQUEST_TYPE, Topics.RESULTS: RESULT_TYPE}


def typestore():
    """The Kilted type store plus this project's message types, read from the installed .msg files."""
    from ament_index_python.packages import get_package_share_directory
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    share = Path(get_package_share_directory('t2i_interfaces')) / 'msg'
    types = {}
    for path in sorted(share.glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f't2i_interfaces/msg/{path.stem}'))
    store.register(types)
    return store


def message_class(type_name: str):
    """'pkg/msg/Name' -> the rclpy message class (rosidl_runtime_py is not on PyPI)."""
    package, kind, name = type_name.split('/')
    return getattr(importlib.import_module(f'{package}.{kind}'), name)


def write_request_bag(out: Path, prompts: list[dict], period_s: float = 0.5, size=(512, 512),
                      lambdas=(0.2, 0.5, 0.8), start_ns: int = 1_700_000_000_000_000_000) -> int:
    """One GenerationRequest every `period_s`; request ids and seeds are deterministic (bag is reproducible)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = typestore()
    Request = store.types[REQUEST_TYPE]
    Header, Time = store.types['std_msgs/msg/Header'], store.types['builtin_interfaces/msg/Time']
    shutil.rmtree(out, ignore_errors=True)
    with Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection('/' + Topics.REQUESTS, REQUEST_TYPE, typestore=store)
        for index, row in enumerate(prompts):
            stamp = start_ns + int(index * period_s * 1e9)
            message = Request(header=Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id=''),
                              request_id=f'bag-{index:04d}', client_id='partiprompts-bag', prompt=row['Prompt'],
                              target_width=size[0], target_height=size[1],
                              preference_weight=float(lambdas[index % len(lambdas)]), use_seed=True, seed=index,
                              deadline_s=0.0, model='')
            writer.write(connection, stamp, store.serialize_cdr(message, REQUEST_TYPE))
    return len(prompts)


def replay(bag: Path, node, rate: float = 1.0, match_timeout_s: float = 30.0) -> int:
    """Publishes the bag's messages (raw CDR, no re-serialisation) at recorded timing; returns the count.
    Waits until every topic has a subscriber, so nothing is sent into the void."""
    from rosbags.rosbag2 import Reader

    published = 0
    with Reader(bag) as reader:
        publishers = {c.topic: node.create_publisher(message_class(c.msgtype), c.topic, DATA)
                      for c in reader.connections}
        deadline = time.monotonic() + match_timeout_s
        while any(p.get_subscription_count() == 0 for p in publishers.values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f'no subscriber on {[t for t, p in publishers.items() if not p.get_subscription_count()]}')
            time.sleep(0.05)
        wall_start, bag_start = time.monotonic(), None
        for connection, stamp, raw in reader.messages():
            bag_start = stamp if bag_start is None else bag_start
            delay = (stamp - bag_start) / 1e9 / rate - (time.monotonic() - wall_start)
            if delay > 0:
                time.sleep(delay)
            publishers[connection.topic].publish(raw)
            published += 1
    return published


class Recorder:
    """Writes requests and results seen on the graph into an mcap bag (raw CDR straight from DDS)."""

    def __init__(self, node, out: Path, topics: dict[str, str] = RECORDED):
        from rosbags.rosbag2 import StoragePlugin, Writer

        store = typestore()
        shutil.rmtree(out, ignore_errors=True)
        self._writer = Writer(out, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._lock = threading.Lock()
        self.counts = {topic: 0 for topic in topics}
        for topic, type_name in topics.items():
            connection = self._writer.add_connection('/' + topic, type_name, typestore=store)
            node.create_subscription(message_class(type_name), topic, self._writer_for(topic, connection), DATA,
                                     raw=True)

    def _writer_for(self, topic, connection):
        def write(raw: bytes) -> None:
            with self._lock:
                self._writer.write(connection, time.time_ns(), raw)
                self.counts[topic] += 1
        return write

    def close(self) -> None:
        with self._lock:
            self._writer.close()


def main(argv: list[str] | None = None) -> int:
    import rclpy
    from rclpy.node import Node

    from t2i_bringup.partiprompts import load_partiprompts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    make = commands.add_parser('make-requests')
    make.add_argument('out', type=Path)
    make.add_argument('--count', type=int, default=10)
    make.add_argument('--period', type=float, default=0.5)
    make.add_argument('--size', default='512x512')
    record = commands.add_parser('record')
    record.add_argument('out', type=Path)
    record.add_argument('--until-results', type=int, default=1)
    record.add_argument('--timeout', type=float, default=600)
    play = commands.add_parser('replay')
    play.add_argument('bag', type=Path)
    play.add_argument('--rate', type=float, default=1.0)
    args = parser.parse_args(argv)

    if args.command == 'make-requests':
        size = tuple(int(v) for v in args.size.split('x'))
        count = write_request_bag(args.out, load_partiprompts(args.count), args.period, size)
        print(f'wrote {count} requests to {args.out}')
        return 0
    rclpy.init()
    node = Node('t2i_bag_' + args.command)
    try:
        if args.command == 'replay':
            print(f'published {replay(args.bag, node, args.rate)} messages')
            return 0
        recorder = Recorder(node, args.out)
        deadline = time.monotonic() + args.timeout
        while recorder.counts[Topics.RESULTS] < args.until_results and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        recorder.close()
        print(f'recorded {recorder.counts} into {args.out}')
        return 0 if recorder.counts[Topics.RESULTS] >= args.until_results else 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    raise SystemExit(main())
