"""Python API and CLI for robot apps and people: send prompts, watch progress, get images.

    from t2i_bringup.client import GenerationClient
    with GenerationClient() as client:
        result = client.generate('a red robot arm', 1024, 768, preference_weight=0.5)

CLI (saves image, partition overlay and latency breakdown per request):
    python -m t2i_bringup.client "a red robot arm" "a lighthouse at dusk" --size 512x512 --lam 0.5 --out output
"""
from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import rclpy
from rclpy.action import ActionClient
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image

from t2i_common.conversions import msg_to_image
from t2i_common.qos import LATEST, Topics, heartbeat
from t2i_interfaces.action import GenerateImage
from t2i_interfaces.msg import GenerationRequest, GenerationResult, LinkStats

STATUS_NAMES = {value: name[len('STATUS_'):].lower() for name, value in vars(GenerationResult).items()
                if name.startswith('STATUS_') and isinstance(value, int)}


def make_request(prompt: str, width: int, height: int, preference_weight: float = 0.5, seed: int | None = None,
                 deadline_s: float = 0.0, model: str = '', client_id: str = 'python') -> GenerationRequest:
    request = GenerationRequest(request_id=uuid.uuid4().hex, client_id=client_id, prompt=prompt,
                                target_width=width, target_height=height,
                                preference_weight=float(preference_weight), use_seed=seed is not None,
                                seed=int(seed or 0), deadline_s=float(deadline_s), model=model)
    request.header.stamp.sec, request.header.stamp.nanosec = divmod(time.time_ns(), 10**9)
    return request


class GenerationClient:
    """Action client with its own node and executor thread, so callers simply block on `generate` (or hold
    the futures of `generate_async` for many requests at once)."""

    def __init__(self, node_name: str = 't2i_client', keep_partition_images: bool = True):
        self._owns_context = not rclpy.ok()
        if self._owns_context:
            rclpy.init()
        self.node = Node(node_name + '_' + uuid.uuid4().hex[:6])
        self._action = ActionClient(self.node, GenerateImage, Topics.ACTION)
        self._device_seen = threading.Event()
        self.partition_images: dict[str, np.ndarray] = {}
        self.node.create_subscription(LinkStats, Topics.LINK_STATS, lambda _: self._device_seen.set(),
                                      heartbeat(2.0))
        if keep_partition_images:
            self.node.create_subscription(Image, Topics.PARTITION_DEBUG, self._on_partition_image, LATEST)
        self._executor = MultiThreadedExecutor()
        self._executor.add_node(self.node)
        self._spin = threading.Thread(target=self._executor.spin, daemon=True)
        self._spin.start()

    def _on_partition_image(self, msg: Image) -> None:
        self.partition_images[msg.header.frame_id] = np.array(msg_to_image(msg))

    def wait_until_ready(self, timeout_s: float = 60.0, need_device: bool = True) -> bool:
        """True once the controller's action server (and, if asked, the device's heartbeat) is visible."""
        deadline = time.monotonic() + timeout_s
        if not self._action.wait_for_server(timeout_sec=timeout_s):
            return False
        return not need_device or self._device_seen.wait(max(0.0, deadline - time.monotonic()))

    def generate_async(self, request: GenerationRequest, on_feedback=None) -> Future:
        """Future of the request's GenerationResult; on_feedback(stage, progress, message) as it runs."""
        done: Future = Future()

        def feedback(message) -> None:
            if on_feedback is not None:
                fb = message.feedback
                on_feedback(fb.stage, fb.progress, fb.message)

        def accepted(goal_future) -> None:
            handle = goal_future.result()
            if not handle.accepted:
                done.set_exception(RuntimeError('the controller rejected the goal'))
                return
            handle.get_result_async().add_done_callback(lambda f: done.set_result(f.result().result.result))

        goal = GenerateImage.Goal(request=request)
        self._action.send_goal_async(goal, feedback_callback=feedback).add_done_callback(accepted)
        return done

    def generate(self, prompt: str, width: int, height: int, preference_weight: float = 0.5, seed=None,
                 deadline_s: float = 0.0, model: str = '', on_feedback=None,
                 timeout_s: float | None = None) -> GenerationResult:
        request = make_request(prompt, width, height, preference_weight, seed, deadline_s, model)
        return self.generate_async(request, on_feedback).result(timeout=timeout_s)

    def close(self) -> None:
        self._executor.shutdown()
        self._spin.join(timeout=5)
        self.node.destroy_node()
        if self._owns_context:
            rclpy.try_shutdown()

    def __enter__(self) -> GenerationClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def latency_table(result: GenerationResult) -> dict:
    config, measured, predicted = result.config, result.measured, result.config.predicted_latency
    fields = ('t1_generation', 't2_edge_sr', 't3_device_sr', 't4_edge_sr_transfer', 't5_background_transfer',
              't6_sr_stage', 'other', 'total')
    return {
        'request_id': result.request_id, 'status': STATUS_NAMES.get(result.status, result.status),
        'message': result.message, 'prompt': config.request.prompt,
        'target': [config.request.target_width, config.request.target_height],
        'lambda': round(config.request.preference_weight, 3),
        'config': {'policy': config.policy, 'S': round(config.sr_scale, 3), 'D': config.denoising_steps,
                   'gamma': round(config.foreground_ratio, 3),
                   'generation': [config.generation_width, config.generation_height],
                   'device_available': config.device_available, 'utility': round(config.utility, 4),
                   'predicted_quality': round(config.predicted_quality, 4)},
        'measured_s': {name: round(getattr(measured, name), 3) for name in fields},
        'predicted_s': {name: round(getattr(predicted, name), 3) for name in fields if name != 'other'},
        'missing_patches': result.missing_patches, 'weights': list(result.weights),
    }


def save_outputs(result: GenerationResult, out_dir: Path, partition: np.ndarray | None = None) -> dict:
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    table = latency_table(result)
    stem = out_dir / result.request_id[:12]
    if result.image.width:
        cv2.imwrite(f'{stem}.png', np.ascontiguousarray(msg_to_image(result.image)[..., ::-1]))
        table['image'] = f'{stem}.png'
    if partition is not None:
        cv2.imwrite(f'{stem}_partition.png', np.ascontiguousarray(partition[..., ::-1]))
        table['partition_image'] = f'{stem}_partition.png'
    Path(f'{stem}.json').write_text(json.dumps(table, indent=2))
    return table


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must look like 1024x768, not {text!r}')
    return width, height


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    parser = argparse.ArgumentParser(description='Send prompts to the t2i graph and save the results.')
    parser.add_argument('prompts', nargs='+')
    parser.add_argument('--size', type=parse_size, default=(512, 512), help='target WxH (default 512x512)')
    parser.add_argument('--lam', type=float, default=0.5, help='preference weight lambda in [0, 1]')
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--deadline', type=float, default=0.0, help='seconds; 0 = the controller default')
    parser.add_argument('--out', type=Path, default=Path('output'))
    parser.add_argument('--wait', type=float, default=120.0, help='seconds to wait for the graph to come up')
    args = parser.parse_args(argv)

    with GenerationClient() as client:
        if not client.wait_until_ready(args.wait):
            print(f'the graph did not come up within {args.wait:.0f} s (controller or device missing)')
            return 2
        bars, futures = [], []
        for index, prompt in enumerate(args.prompts):
            bar = tqdm(total=100, position=index, desc=prompt[:30].ljust(30), bar_format='{desc} {bar} {postfix}',
                       leave=True)
            bars.append(bar)

            def on_feedback(stage, progress, message, bar=bar):
                bar.n = int(progress * 100)
                bar.set_postfix_str(f'{stage}: {message}'[:60])

            seed = None if args.seed is None else args.seed + index
            request = make_request(prompt, *args.size, args.lam, seed, args.deadline, client_id='cli')
            futures.append(client.generate_async(request, on_feedback))
        tables = []
        for bar, future in zip(bars, futures):
            result = future.result()
            bar.n = 100
            bar.set_postfix_str(STATUS_NAMES.get(result.status, str(result.status)))
            bar.close()
            time.sleep(0.1)  # the partition overlay may trail the result by a few ms
            tables.append(save_outputs(result, args.out, client.partition_images.get(result.request_id)))
    for table in tables:
        print(json.dumps(table))
    return 0 if all(table['status'] == 'ok' for table in tables) else 1


if __name__ == '__main__':
    raise SystemExit(main())
