"""One end of the cross-process exchange test: 'pub' sends a GenerationRequest and a 4 MB ImagePatch,
'sub' receives both, checks them byte for byte and prints a JSON report. Discovery is awaited through
matched-subscription counts, never sleeps."""
import argparse
import hashlib
import json
import sys
import time

import numpy as np
import rclpy
from rclpy.node import Node

from t2i_common.conversions import image_to_msg, msg_to_image
from t2i_common.qos import DATA
from t2i_interfaces.msg import GenerationRequest, ImagePatch

WIDTH, HEIGHT = 1182, 1182          # 1182 * 1182 * 3 bytes = 4.0 MiB
PROMPT = 'a red robot arm stacking blue cubes, studio light'


def test_image() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def now_ns() -> int:
    return time.time_ns()


def publish(node: Node, timeout_s: float) -> dict:
    requests = node.create_publisher(GenerationRequest, 'exchange/requests', DATA)
    patches = node.create_publisher(ImagePatch, 'exchange/patches', DATA)
    deadline = time.monotonic() + timeout_s
    while requests.get_subscription_count() == 0 or patches.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            return {'ok': False, 'error': 'no subscriber matched'}
        rclpy.spin_once(node, timeout_sec=0.02)
    request = GenerationRequest(request_id='req-1', client_id='exchange', prompt=PROMPT, target_width=1920,
                                target_height=1080, preference_weight=0.5, use_seed=True, seed=42)
    requests.publish(request)
    patch = ImagePatch(role=ImagePatch.ROLE_BACKGROUND, row=1, col=2, patch_index=6, patch_count=16,
                       spatial_variance=0.125, lowres_box=[10, 20, 300, 310], highres_box=[40, 80, 1200, 1240],
                       overlap=[8, 8, 0, 8], scale=4.0)
    patch.config.request = request
    patch.image = image_to_msg(test_image(), frame_id='edge')
    stamp_ns = now_ns()
    patch.header.stamp.sec, patch.header.stamp.nanosec = divmod(stamp_ns, 10**9)
    patches.publish(patch)
    # stay alive until the subscriber has everything (it leaves when done)
    while patches.get_subscription_count() > 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    return {'ok': True}


def subscribe(node: Node, timeout_s: float) -> dict:
    received = {}

    def on_patch(msg: ImagePatch) -> None:
        received['patch_latency_ms'] = (now_ns() - (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)) / 1e6
        received['patch'] = msg

    node.create_subscription(GenerationRequest, 'exchange/requests', lambda m: received.update(request=m), DATA)
    node.create_subscription(ImagePatch, 'exchange/patches', on_patch, DATA)
    deadline = time.monotonic() + timeout_s
    while ('request' not in received or 'patch' not in received) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    if 'patch' not in received or 'request' not in received:
        return {'ok': False, 'error': f'received only {sorted(received)}'}
    patch, request = received['patch'], received['request']
    image = msg_to_image(patch.image)
    return {
        'ok': True,
        'sha256_match': hashlib.sha256(image.tobytes()).hexdigest()
        == hashlib.sha256(test_image().tobytes()).hexdigest(),
        'bytes': int(image.nbytes),
        'request': [request.request_id, request.prompt, request.target_width, request.target_height,
                    round(request.preference_weight, 3), request.seed],
        'patch_meta': [patch.patch_index, patch.row, patch.col, [int(v) for v in patch.lowres_box],
                       [int(v) for v in patch.highres_box], [int(v) for v in patch.overlap],
                       patch.config.request.request_id],
        'patch_latency_ms': round(received['patch_latency_ms'], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('role', choices=['pub', 'sub'])
    parser.add_argument('--timeout', type=float, default=30.0)
    args = parser.parse_args()
    rclpy.init()
    node = Node(f'exchange_{args.role}')
    try:
        report = (publish if args.role == 'pub' else subscribe)(node, args.timeout)
    finally:
        node.destroy_node()
        rclpy.shutdown()
    print(json.dumps(report), flush=True)
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
