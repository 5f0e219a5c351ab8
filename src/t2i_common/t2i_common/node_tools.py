"""Small pieces every stage node needs: described parameters, error results, progress, a serial worker.

Kept here so each node file stays thin glue and no two nodes grow twins of the same code.
"""
from __future__ import annotations

import os
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Hashable

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from t2i_interfaces.msg import GenerationConfig, GenerationResult, Progress


# Model loads in one process take turns: diffusers' lazy imports are not thread-safe (two nodes loading
# pipelines at once raised ImportError), and two loads on a small CPU only slow each other down.
MODEL_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class Param:
    """A declared parameter: default value (its type is the parameter's type) and what it means."""
    default: Any
    description: str


class RecentIds:
    """The last `capacity` request ids seen, for "already answered?" checks that must not grow forever."""

    def __init__(self, capacity: int = 10_000):
        self._ids: dict[str, None] = {}
        self._capacity = capacity

    def add(self, request_id: str) -> None:
        self._ids[request_id] = None
        while len(self._ids) > self._capacity:
            self._ids.pop(next(iter(self._ids)))

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._ids


def declare_parameters(node: Node, spec: dict[str, Param]) -> dict[str, Any]:
    """Declares every parameter of ``spec`` with its description and returns the values in effect."""
    values = {}
    for name, param in spec.items():
        descriptor = ParameterDescriptor(description=param.description)
        values[name] = node.declare_parameter(name, param.default, descriptor).value
    return values


def error_result(config: GenerationConfig, status: int, message: str) -> GenerationResult:
    """The one result a failed request gets: status, a message for the requester, and what was decided."""
    result = GenerationResult(request_id=config.request.request_id, client_id=config.request.client_id,
                              status=status, message=message)
    result.config = config
    return result


def report_failure(node: Node, results, config: GenerationConfig, message: str,
                   status: int = GenerationResult.STATUS_MODEL_ERROR) -> None:
    """A stage could not do its part: the requester gets the reason as its result, the operator a log line."""
    node.get_logger().error(f'{config.request.request_id[:12]}: {message}')
    results.publish(error_result(config, status, message))


def progress_message(node: Node, request_id: str, stage: str, fraction: float, text: str = '') -> Progress:
    msg = Progress(request_id=request_id, stage=stage, progress=float(fraction), message=text)
    msg.header.stamp = node.get_clock().now().to_msg()
    return msg


def seconds_since(stamp) -> float:
    """Seconds from a header stamp (the sender's clock) to now; meaningful on one host or with synced clocks."""
    return time.time() - (stamp.sec + stamp.nanosec * 1e-9)


class SerialWorker:
    """Handles submitted items one batch at a time on a background thread, so a minute-long model call never
    blocks the node's callbacks (new requests, liveliness events, action goals are served meanwhile).

    With ``batch_key``, queued items sharing the first item's key join its batch (e.g. the patches of one
    request, so a back-end can run them together); other items keep their order.
    """

    def __init__(self, node: Node, name: str, handle: Callable[[list], None],
                 batch_key: Callable[[Any], Hashable] | None = None):
        self._node = node
        self._handle = handle
        self._batch_key = batch_key
        self._items: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> None:
        self._items.put(item)

    def _next_batch(self, first: Any) -> list:
        if self._batch_key is None:
            return [first]
        key, batch, others = self._batch_key(first), [first], []
        while True:
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                break
            if self._batch_key(item) == key:
                batch.append(item)
            else:
                others.append(item)
        for item in others:
            self._items.put(item)
        return batch

    def _run(self) -> None:
        while True:  # a daemon thread: it ends with the process
            first = self._items.get()
            try:
                self._handle(self._next_batch(first))
            except Exception:  # a failing batch must not kill the worker: the node keeps serving
                self._node.get_logger().error(f'{self._thread.name} failed:\n{traceback.format_exc()}')


def expired(config: GenerationConfig) -> bool:
    """True once the request's deadline (the controller's decision time + deadline_s) has passed, so stages
    stop spending compute on a request whose requester already got a timeout."""
    deadline = config.request.deadline_s
    return deadline > 0 and seconds_since(config.header.stamp) > deadline


def run_nodes(node_classes: list[type], args=None) -> None:
    """Starts nodes in one process under a multi-threaded executor (rclpy has no component containers) and
    shuts down cleanly on Ctrl-C / SIGTERM, so no shared-memory files are left behind."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    rclpy.init(args=args)
    nodes = [cls() for cls in node_classes]
    # At least 4 threads: rclpy sizes the pool by the CPU affinity, so a process pinned to one core got a
    # single thread, which the controller's blocking action callback held while it waited for the result
    # that only another callback could deliver (deadlock). The threads mostly wait; compute runs in workers.
    executor = MultiThreadedExecutor(num_threads=max(4, len(os.sched_getaffinity(0))))
    for node in nodes:
        executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
