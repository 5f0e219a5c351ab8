"""End to end over DDS: the edge and the device run as two OS processes (localhost only) with the tiny
random-weight generator/upscaler and the real Real-ESRGAN weights; requests go through the action API,
the request topic, and a replayed rosbag."""
import math
import threading
import time
from collections import defaultdict

import pytest
from rclpy.node import Node
from rosbags.rosbag2 import Reader

from ros_testing import ROOT
from t2i_bringup.bags import Recorder, replay, typestore
from t2i_bringup.client import GenerationClient, make_request
from t2i_bringup.processes import GraphProcesses
from t2i_common.conversions import msg_to_image
from t2i_common.qos import DATA, Topics
from t2i_interfaces.msg import GenerationConfig, GenerationResult, ImagePatch, Latent

pytestmark = [pytest.mark.ros, pytest.mark.slow]
E2E_PARAMS = ROOT / 'tests' / 'config' / 'e2e.yaml'
READY_TIMEOUT_S = 300  # first run converts Real-ESRGAN weights and builds the tiny models


class Observer:
    """Watches the graph's topics from the test process: patches per request and role, all results."""

    def __init__(self, node: Node):
        self.patches = defaultdict(lambda: defaultdict(int))
        self.results: dict[str, list[GenerationResult]] = defaultdict(list)
        self._lock = threading.Lock()
        for topic, role in ((Topics.FOREGROUND_PATCHES, 'edge'), (Topics.BACKGROUND_PATCHES, 'device')):
            node.create_subscription(ImagePatch, topic, lambda msg, role=role: self._on_patch(msg, role), DATA)
        node.create_subscription(GenerationResult, Topics.RESULTS, self._on_result, DATA)

    def _on_patch(self, patch: ImagePatch, path: str) -> None:
        with self._lock:
            self.patches[patch.config.request.request_id][path] += 1

    def _on_result(self, result: GenerationResult) -> None:
        with self._lock:
            self.results[result.request_id].append(result)

    def wait_results(self, request_ids, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if all(self.results.get(rid) for rid in request_ids):
                    return True
            time.sleep(0.1)
        return False


@pytest.fixture(scope='module')
def graph(tmp_path_factory):
    with GraphProcesses(tmp_path_factory.mktemp('graph_logs'), params=[E2E_PARAMS]) as processes, \
            GenerationClient('e2e_client') as client:
        observer = Observer(client.node)
        assert client.wait_until_ready(READY_TIMEOUT_S), f'graph did not come up; logs in {processes.log_dir}'
        yield processes, client, observer


def test_request_gives_target_sized_image_with_config_latency_and_feedback(graph):
    _, client, observer = graph
    feedback = []
    result = client.generate('a red robot arm stacking blue cubes', 448, 320, preference_weight=0.5, seed=3,
                             on_feedback=lambda *f: feedback.append(f), timeout_s=150)
    assert result.status == GenerationResult.STATUS_OK, result.message
    image = msg_to_image(result.image)
    assert image.shape == (320, 448, 3)
    assert image.std() > 0  # a real picture, not an empty canvas

    config = result.config
    assert config.sr_scale in (2.0, 4.0) and config.denoising_steps in (4, 8)
    assert config.policy == 'sa' and config.device_available
    predicted = config.predicted_latency  # the controller filled in its model's breakdown (not a timing check)
    assert predicted.total == pytest.approx(predicted.t1_generation + predicted.t6_sr_stage, rel=1e-4)
    measured = result.measured
    assert measured.t1_generation > 0 and measured.t2_edge_sr > 0 and measured.t3_device_sr > 0
    assert measured.total >= measured.t1_generation + measured.t6_sr_stage - 1e-3
    assert any('generator: tiny-random' in w for w in result.weights)
    assert any('realesr' in w for w in result.weights)

    patches = observer.patches[result.request_id]
    expected_foreground = math.ceil(config.foreground_ratio * config.grid_size ** 2)
    assert patches == {'edge': expected_foreground, 'device': config.grid_size ** 2 - expected_foreground}

    stages = {stage for stage, _, _ in feedback}
    assert {'controller', 'generator', 'stitcher'} <= stages
    progress = [value for _, value, _ in feedback]
    assert progress[-1] == pytest.approx(1.0) and max(progress) <= 1.0


def test_ten_concurrent_requests_from_three_clients_get_their_own_images(graph):
    _, first_client, _ = graph
    clients = [first_client, GenerationClient('e2e_client_b'), GenerationClient('e2e_client_c')]
    try:
        sizes = [(256 + 64 * (i % 4), 256 + 64 * (i // 4)) for i in range(10)]
        pending = []
        for index, size in enumerate(sizes):
            client = clients[index % len(clients)]
            request = make_request(f'request number {index}: a lighthouse', *size, 0.2 + 0.06 * index,
                                   seed=index, client_id=f'client-{index % len(clients)}')
            pending.append((request, client.generate_async(request)))
        for request, future in pending:
            result = future.result(timeout=600)
            assert result.status == GenerationResult.STATUS_OK, result.message
            assert result.request_id == request.request_id
            assert result.client_id == request.client_id
            assert msg_to_image(result.image).shape == (request.target_height, request.target_width, 3)
    finally:
        for client in clients[1:]:
            client.close()


@pytest.mark.parametrize('changes, fragment', [
    (dict(prompt=''), 'prompt is empty'),
    (dict(prompt='x' * 10_000), '10000 characters'),
    (dict(width=0), 'target_width is 0'),
    (dict(width=100_000), 'target_width is 100000'),
    (dict(preference_weight=-1.0), 'lambda'),
    (dict(preference_weight=math.nan), 'lambda'),
    (dict(model='not-a-model'), "unknown model 'not-a-model'"),
])
def test_bad_request_gets_a_clear_error(graph, changes, fragment):
    _, client, _ = graph
    arguments = dict(prompt='a cat', width=256, height=256, preference_weight=0.5, model='')
    arguments.update(changes)
    result = client.generate(arguments.pop('prompt'), arguments.pop('width'), arguments.pop('height'),
                             timeout_s=30, **arguments)
    assert result.status == GenerationResult.STATUS_INVALID_REQUEST
    assert fragment in result.message


def test_duplicate_request_id_is_refused_without_hurting_the_original(graph):
    _, client, _ = graph
    original = make_request('the original request', 256, 256, 0.5, seed=5)
    duplicate = make_request('a second request reusing the id', 256, 256, 0.5)
    duplicate.request_id = original.request_id
    first = client.generate_async(original)
    time.sleep(0.5)  # the original is planned and in flight
    refused = client.generate_async(duplicate).result(timeout=30)
    assert refused.status == GenerationResult.STATUS_INVALID_REQUEST and 'already used' in refused.message
    result = first.result(timeout=150)
    assert result.status == GenerationResult.STATUS_OK, result.message


def inject_and_expect_failure(client: GenerationClient, observer: Observer, topic: str, bogus,
                              fragment: str) -> None:
    """Publishes a malformed message into the graph: its request must fail with MODEL_ERROR naming the
    problem, and the next good request must still succeed."""
    publisher = client.node.create_publisher(type(bogus), topic, DATA)
    deadline = time.monotonic() + 10
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    publisher.publish(bogus)
    request_id = bogus.config.request.request_id
    assert observer.wait_results([request_id], 30)
    error = observer.results[request_id][0]
    assert error.status == GenerationResult.STATUS_MODEL_ERROR and fragment in error.message

    result = client.generate(f'a good request after {request_id}', 256, 256, timeout_s=150)
    assert result.status == GenerationResult.STATUS_OK, result.message


def test_malformed_latent_fails_its_request_and_the_graph_keeps_serving(graph):
    _, client, observer = graph
    bogus = Latent(config=GenerationConfig(grid_size=4, foreground_ratio=0.25, sr_scale=2.0))
    bogus.config.request.request_id = 'malformed-latent'
    bogus.config.request.target_width = bogus.config.request.target_height = 256
    bogus.shape, bogus.dtype, bogus.data = [4, 8, 8], 'float32', b'\x00' * 12  # 3 floats, not 256
    inject_and_expect_failure(client, observer, Topics.LATENTS, bogus, 'elements')


def test_malformed_patch_fails_its_request_and_the_stitcher_keeps_serving(graph):
    _, client, observer = graph
    bogus = ImagePatch(patch_index=0, patch_count=16, highres_box=[0, 0, 64, 64], upscaled=True)
    bogus.config.request.request_id = 'malformed-patch'
    bogus.config.request.target_width = bogus.config.request.target_height = 256
    bogus.config.device_available = True
    bogus.image.height, bogus.image.width, bogus.image.step, bogus.image.encoding = 64, 64, 192, 'rgb8'
    bogus.image.data = b'\x00' * 100  # far fewer bytes than 64 x 64 x 3
    inject_and_expect_failure(client, observer, Topics.UPSCALED_PATCHES, bogus, 'bad patch')


def test_replayed_partiprompts_bag_gets_every_result_and_the_run_is_recorded(graph, tmp_path):
    _, client, observer = graph
    bag = ROOT / 'tests' / 'data' / 'partiprompts_requests'
    recorder = Recorder(client.node, tmp_path / 'recorded')
    assert replay(bag, client.node, rate=1.0) == 10
    request_ids = [f'bag-{index:04d}' for index in range(10)]
    assert observer.wait_results(request_ids, 600), {rid: len(observer.results[rid]) for rid in request_ids}
    time.sleep(0.5)  # the recorder's copy of the last result may trail the observer's by a moment
    recorder.close()
    store = typestore()
    with Reader(tmp_path / 'recorded') as reader:
        recorded = defaultdict(set)
        for connection, _, raw in reader.messages():
            recorded[connection.topic].add(store.deserialize_cdr(raw, connection.msgtype).request_id)
    assert set(request_ids) <= recorded['/' + Topics.REQUESTS]
    assert set(request_ids) <= recorded['/' + Topics.RESULTS]
    for request_id in request_ids:
        results = observer.results[request_id]
        assert len(results) == 1, [r.message for r in results]  # exactly one result per request
        assert results[0].status == GenerationResult.STATUS_OK, results[0].message
        assert (results[0].image.width, results[0].image.height) == (512, 512)
