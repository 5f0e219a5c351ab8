"""controller node (edge): validates requests, chooses [S, D] (and gamma when allowed) per request, publishes
the GenerationConfig, serves the GenerateImage action, and guarantees every request exactly one result:
from the stitcher, or an error from here (invalid, infeasible, device lost, deadline passed)."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.task import Future
from std_msgs.msg import Bool
from t2i_common.node_tools import Param, RecentIds, declare_parameters, error_result, run_nodes
from t2i_common.qos import DATA, LATEST, PROGRESS, Topics, heartbeat
from t2i_interfaces.action import GenerateImage
from t2i_interfaces.msg import GenerationConfig, GenerationRequest, GenerationResult, LinkStats, Progress

from t2i_controller.planner import Planner, PlannerSettings
from t2i_controller.validation import RequestLimits, request_problems

PARAMETERS = {
    'policy': Param('sa', 'Configuration policy: sa (Algorithm 1), exact, or a baseline: random, no_sr, '
                          'one_type, cogview3.'),
    'profile': Param('', 'Latency/quality profile: a file path, or the name of one in the package\'s profiles '
                         'folder (cpu-tiny, cpu-fullsize-bf16, ...); empty = default-cpu.'),
    'utility_form': Param('normalised', 'normalised (Q/Q_ref - lambda*T/T_ref, same meaning at any size) or '
                                        'raw (Q - lambda*T as in the paper).'),
    'scales': Param([1.0, 1.5, 2.0, 3.0, 4.0], 'Candidate SR scales S.'),
    'steps': Param([4, 8, 12, 16, 20, 30, 40, 50], 'Candidate denoising steps D.'),
    'foreground_ratio': Param(0.25, 'gamma: share of grid cells given diffusion SR on the edge.'),
    'optimise_foreground_ratio': Param(False, 'Let the solver choose gamma from foreground_ratios too.'),
    'foreground_ratios': Param([0.0, 0.125, 0.25, 0.5, 0.75, 1.0], 'Candidate gamma values when optimised.'),
    'grid_size': Param(4, 'G: the latent is cut into G x G cells.'),
    'overlap_px': Param(16, 'Patch overlap in low-res pixels; must equal latent_partitioner\'s overlap_px.'),
    'generation_multiple': Param(64, 'Generation width/height are rounded to multiples of this.'),
    'edge_capacity': Param(1.0, 'C1: available fraction of the profiled edge compute (0, 1].'),
    'device_capacity': Param(1.0, 'C2: available fraction of the profiled device compute (0, 1].'),
    'latency_bound_s': Param(0.0, 'L0: configurations predicted slower than this are infeasible; 0 = none.'),
    'default_deadline_s': Param(300.0, 'Deadline of requests that set none (seconds from the decision).'),
    'deadline_grace_s': Param(2.0, 'How long after a deadline the controller waits before answering timeout.'),
    'default_bandwidth_bps': Param(100e6, 'Edge->device bandwidth assumed until LinkStats arrive.'),
    'device_lease_s': Param(2.0, 'Liveliness lease on the device\'s LinkStats: silence this long = device gone.'),
    'max_prompt_chars': Param(2000, 'Longer prompts are rejected (CLIP reads 77 tokens anyway).'),
    'min_side': Param(64, 'Smallest accepted target width/height in pixels.'),
    'max_side': Param(8192, 'Largest accepted target width/height in pixels.'),
    'max_pixels': Param(4096 * 4096, 'Largest accepted target width x height.'),
    'models': Param(['tiny-sdxl'], 'Generator model names a request may ask for (empty request.model = default).'),
    'seed': Param(0, 'Seed of the stochastic policies (sa, random) for reproducible decisions.'),
}

# Share of the action's progress reached when each stage reports 100 %.
STAGE_PROGRESS = {'controller': (0.0, 0.02), 'generator': (0.02, 0.6), 'partitioner': (0.6, 0.65),
                  'edge_sr': (0.65, 0.9), 'device_sr': (0.65, 0.9), 'stitcher': (0.9, 1.0)}


@dataclass
class InFlight:
    config: GenerationConfig
    deadline: float                              # time.monotonic() after which the controller answers timeout
    result: GenerationResult | None = None       # set once, under the node's lock
    answered: Future | None = None               # completed with the result, for async action goals
    feedback: object = None                      # callable(stage, fraction, text) for action goals


class ControllerNode(Node):
    def __init__(self):
        super().__init__('controller')
        self.params = p = declare_parameters(self, PARAMETERS)
        self._limits = RequestLimits(max_prompt_chars=p['max_prompt_chars'], min_side=p['min_side'],
                                     max_side=p['max_side'], max_pixels=p['max_pixels'], models=tuple(p['models']))
        self._planner = Planner(PlannerSettings.from_parameters(p))
        self._lock = threading.Lock()
        self._in_flight: dict[str, InFlight] = {}
        self._ended = RecentIds()                # answered request ids
        self._device_alive = False
        self._bandwidth_bps = p['default_bandwidth_bps']
        reentrant = ReentrantCallbackGroup()
        self._configs = self.create_publisher(GenerationConfig, Topics.CONFIGS, DATA)
        self._results = self.create_publisher(GenerationResult, Topics.RESULTS, DATA)
        self._device_state = self.create_publisher(Bool, Topics.DEVICE_AVAILABLE, LATEST)
        self._device_state.publish(Bool(data=False))
        self.create_subscription(GenerationRequest, Topics.REQUESTS, self.submit, DATA, callback_group=reentrant)
        self.create_subscription(GenerationResult, Topics.RESULTS, self._on_result, DATA, callback_group=reentrant)
        self.create_subscription(Progress, Topics.PROGRESS, self._on_progress, PROGRESS, callback_group=reentrant)
        self.create_subscription(
            LinkStats, Topics.LINK_STATS, self._on_link_stats, heartbeat(p['device_lease_s']),
            event_callbacks=SubscriptionEventCallbacks(liveliness=self._on_device_liveliness))
        self.create_timer(0.2, self._end_overdue)
        self._action = ActionServer(self, GenerateImage, Topics.ACTION, execute_callback=self._execute,
                                    goal_callback=lambda goal: GoalResponse.ACCEPT,
                                    cancel_callback=lambda goal: CancelResponse.REJECT,
                                    callback_group=reentrant)
        self.get_logger().info(f'controller ready: policy {p["policy"]}, profile {self._planner.profile_name}')

    # -- requests
    def submit(self, request: GenerationRequest, feedback=None, answered: Future | None = None) -> InFlight:
        """Validates and plans one request; always returns its InFlight entry (ended at once on errors)."""
        if not request.request_id:
            request.request_id = uuid.uuid4().hex
        config = GenerationConfig(request=request, grid_size=self.params['grid_size'])
        config.header.stamp = self.get_clock().now().to_msg()
        with self._lock:
            duplicate = request.request_id in self._in_flight or request.request_id in self._ended
        problems = request_problems(request.prompt, request.target_width, request.target_height,
                                    request.preference_weight, request.deadline_s, request.model, self._limits)
        if duplicate:
            problems.append(f'request_id {request.request_id!r} was already used')
        deadline_s = request.deadline_s or self.params['default_deadline_s']
        entry = InFlight(config, time.monotonic() + deadline_s + self.params['deadline_grace_s'], feedback=feedback,
                         answered=answered)
        if problems:
            self._track(entry, register=not duplicate)
            self._end(entry, GenerationResult.STATUS_INVALID_REQUEST, 'invalid request: ' + '; '.join(problems))
            return entry
        request.deadline_s = float(deadline_s)
        self._track(entry, register=True)
        try:
            decision = self._planner.decide(request, self._bandwidth_bps, self._device_alive)
        except Exception as error:  # a model/profile fault fails this request, not the node
            self._end(entry, GenerationResult.STATUS_INFEASIBLE, f'the controller could not plan it: {error}')
            return entry
        self._planner.fill_config(config, decision, self._device_alive)
        if not decision.feasible:
            self._end(entry, GenerationResult.STATUS_INFEASIBLE, decision.message)
            return entry
        self._configs.publish(config)
        self._feedback(entry, 'controller', 1.0,
                       f'S={config.sr_scale:g} D={config.denoising_steps} gamma={config.foreground_ratio:g} '
                       f'at {config.generation_width}x{config.generation_height}, '
                       f'predicted {config.predicted_latency.total:.1f} s')
        return entry

    def _track(self, entry: InFlight, register: bool) -> None:
        if register:
            with self._lock:
                self._in_flight[entry.config.request.request_id] = entry

    def _end(self, entry: InFlight, status: int, message: str) -> None:
        """Answers a request from here (an error); the stitcher answers the successful ones."""
        result = error_result(entry.config, status, message)
        result.header.stamp = self.get_clock().now().to_msg()
        result.header.frame_id = self.get_name()  # so that our own results coming back are not taken as stages'
        if self._settle(entry.config.request.request_id, result, entry):
            self.get_logger().warning(f'request {entry.config.request.request_id}: {message}')
            self._results.publish(result)

    def _settle(self, request_id: str, result: GenerationResult, entry: InFlight | None = None) -> bool:
        """Marks a request answered exactly once; False when it already was."""
        with self._lock:
            tracked = self._in_flight.get(request_id)
            entry = entry or tracked
            if entry is None or entry.result is not None:
                return False
            if tracked is entry:  # a rejected duplicate must not end the original request of that id
                del self._in_flight[request_id]
            entry.result = result
            self._ended.add(request_id)
        if entry.answered is not None:
            entry.answered.set_result(result)
        return True

    def _on_result(self, result: GenerationResult) -> None:
        if result.header.frame_id != self.get_name():
            self._settle(result.request_id, result)

    def _end_overdue(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = [entry for entry in self._in_flight.values() if now > entry.deadline]
        for entry in overdue:
            self._end(entry, GenerationResult.STATUS_TIMEOUT,
                      f'no result within the deadline of {entry.config.request.deadline_s:.1f} s')

    # -- the device and the link
    def _on_link_stats(self, stats: LinkStats) -> None:
        # liveliness events alone decide whether the device is alive: a sample still queued from a device
        # that has just died must not revive it
        if stats.samples > 0:
            self._bandwidth_bps = stats.bandwidth_bps

    def _on_device_liveliness(self, event) -> None:
        self._set_device_alive(event.alive_count > 0)

    def _set_device_alive(self, alive: bool) -> None:
        """Routes new requests by the device's liveliness; requests stranded on a lost device end now."""
        with self._lock:
            changed, self._device_alive = alive != self._device_alive, alive
        if not changed:
            return
        self._device_state.publish(Bool(data=alive))
        self.get_logger().warning('device is back: background patches go to the device again' if alive else
                                  'device lost: new requests take the edge-only path')
        if not alive:
            with self._lock:
                stranded = [e for e in self._in_flight.values() if e.config.device_available]
            for entry in stranded:
                self._end(entry, GenerationResult.STATUS_NO_SR_PATH,
                          'the device vanished while it held this request\'s patches; retry (new requests '
                          'take the edge-only path)')

    # -- progress and the action
    def _on_progress(self, progress: Progress) -> None:
        with self._lock:
            entry = self._in_flight.get(progress.request_id)
        if entry is not None:
            self._feedback(entry, progress.stage, progress.progress, progress.message)

    @staticmethod
    def _feedback(entry: InFlight, stage: str, fraction: float, text: str) -> None:
        if entry.feedback is not None:
            start, end = STAGE_PROGRESS.get(stage, (0.0, 1.0))
            entry.feedback(stage, start + (end - start) * min(max(fraction, 0.0), 1.0), text)

    async def _execute(self, goal_handle):
        """A coroutine: a goal waiting for its result holds no executor thread, so any number of goals can be
        in flight (the overdue timer guarantees the wait ends)."""
        def feedback(stage: str, fraction: float, text: str) -> None:
            goal_handle.publish_feedback(GenerateImage.Feedback(stage=stage, progress=fraction, message=text))

        answered = Future(executor=self.executor)
        entry = self.submit(goal_handle.request.request, feedback, answered)
        await answered
        if entry.result.status == GenerationResult.STATUS_OK:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return GenerateImage.Result(result=entry.result)


def main(args=None) -> None:
    run_nodes([ControllerNode], args)
