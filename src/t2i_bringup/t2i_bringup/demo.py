"""The main job on one machine: start the edge and the device as two processes (localhost-only DDS), send
prompts (yours, or PartiPrompts), save images, partition overlays and latency breakdowns under output/."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from t2i_bringup.client import GenerationClient, make_request, save_outputs
from t2i_bringup.partiprompts import load_partiprompts
from t2i_bringup.processes import GraphProcesses


def describe(table: dict) -> str:
    config, measured, predicted = table['config'], table['measured_s'], table['predicted_s']
    return (f"{table['status']:>7}  S={config['S']:<4g} D={config['D']:<3d} gamma={config['gamma']:<5g} "
            f"gen {config['generation'][0]}x{config['generation'][1]} -> {table['target'][0]}x{table['target'][1]}"
            f"  T1 {measured['t1_generation']:.2f}  T2 {measured['t2_edge_sr']:.2f}  T3 {measured['t3_device_sr']:.2f}"
            f"  T4 {measured['t4_edge_sr_transfer']:.3f}  T5 {measured['t5_background_transfer']:.3f}"
            f"  other {measured['other']:.2f}  total {measured['total']:.2f} s (predicted {predicted['total']:.2f})"
            f"  {table.get('image', table['message'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('prompts', nargs='*', help='prompts (default: 3 PartiPrompts)')
    parser.add_argument('--size', default='512x512', help='target WxH')
    parser.add_argument('--lam', type=float, nargs='+', default=[0.2, 0.5, 0.8],
                        help='preference weights, cycled over the prompts')
    parser.add_argument('--out', type=Path, default=Path('output'))
    parser.add_argument('--params', type=Path, action='append', default=[], help='extra parameter YAML')
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split('x'))
    prompts = args.prompts or [row['Prompt'] for row in load_partiprompts(3)]

    print(f'starting the graph (logs in {args.out / "logs"}) ...', flush=True)
    with GraphProcesses(args.out / 'logs', params=args.params), GenerationClient('t2i_demo') as client:
        if not client.wait_until_ready(600):
            print('the graph did not come up; see the logs')
            return 2
        started = time.monotonic()
        futures = []
        for index, prompt in enumerate(prompts):
            request = make_request(prompt, width, height, args.lam[index % len(args.lam)], seed=index,
                                   client_id='demo')
            print(f'-> {request.request_id[:12]}  lambda={request.preference_weight:g}  "{prompt}"', flush=True)
            futures.append(client.generate_async(request))
        tables = []
        for future in futures:
            result = future.result()
            time.sleep(0.1)  # the partition overlay may trail the result by a few ms
            tables.append(save_outputs(result, args.out, client.partition_images.get(result.request_id)))
            print(describe(tables[-1]), flush=True)
        print(f'{len(tables)} requests in {time.monotonic() - started:.1f} s')
    weights = sorted({w for table in tables for w in table['weights']})
    print('weights used:\n  ' + '\n  '.join(weights))
    if any('random' in w.lower() for w in weights):
        print('NOTICE: some stages ran RANDOMLY INITIALISED weights (no SDXL / diffusion-SR weights on this '
              'machine): those images show the pipeline working, not model quality. Point the generator and '
              'edge_sr "model" parameters at real diffusers folders to get real images.')
    return 0 if all(table['status'] == 'ok' for table in tables) else 1


if __name__ == '__main__':
    raise SystemExit(main())
