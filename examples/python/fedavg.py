#!/usr/bin/env python3
"""A FedAvg driver for privagg's control API (privagg.v1.AggregationControl), in Python.

It defines an aggregation on a `privagg serve --control` coordinator, then runs federated averaging:
each round it sends the global model as the round's task, the `privagg client` participants train on
it locally (train_client.py, run by `privagg client --input-command`) and submit their updates through
secure aggregation, and the driver receives only the sum of the surviving clients' updates, from
which it computes the next global model. With --dp the clients add distributed noise and the driver
receives only the noisy sum, and the privacy budget is tracked in the coordinator's ledger.

Needs grpcio and numpy (Debian: python3-grpcio python3-numpy python3-protobuf). The stubs in stubs/
are generated from proto/privagg/v1/control.proto by gen_stubs.sh."""
import argparse
import os
import sys
import time

import grpc
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "stubs"))
from privagg.v1 import control_pb2 as pb  # noqa: E402
from privagg.v1 import control_pb2_grpc  # noqa: E402

import model  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="HOST:PORT of privagg serve --control")
    parser.add_argument("--token-file", required=True, help="the operator token (--control-token-file)")
    parser.add_argument("--name", default="fedavg-mnist", help="the aggregation's name")
    parser.add_argument("--clients", type=int, required=True, help="cohort size N")
    parser.add_argument("--min-clients", type=int, default=0, help="start with M..N after the window")
    parser.add_argument("--check-in-window-ms", type=int, default=3000)
    parser.add_argument("--stage-timeout-ms", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--test", required=True, help="test set (.npz with x and y)")
    parser.add_argument("--dp", action="store_true", help="distributed DP (clients run train_client.py --dp)")
    parser.add_argument("--clip", type=float, default=2.0, help="with --dp: the L2 clip norm")
    parser.add_argument("--target-epsilon", type=float, default=8.0, help="with --dp: the budget")
    parser.add_argument("--ledger", default="fedavg-mnist.ledger", help="with --dp: a file in --ledger-dir")
    return parser.parse_args()


def aggregation(args):
    agg = pb.Aggregation(
        name=args.name,
        cohort=pb.Cohort(
            clients=args.clients, min_clients=args.min_clients, check_in_window_ms=args.check_in_window_ms
        ),
        stage_timeout_ms=args.stage_timeout_ms,
    )
    if args.dp:
        agg.privacy.CopyFrom(
            pb.PrivacyDefinition(
                mechanism=pb.PRIVACY_MECHANISM_DISTRIBUTED_SKELLAM,
                dimension=model.PARAMETERS,
                clip=args.clip,
                calibrate_for_rounds=args.rounds,
                target_epsilon=args.target_epsilon,
                ledger=args.ledger,
            )
        )
    else:
        # The example-weighted update and the example count, summed together: FedAvg's weighted mean.
        agg.vectors.extend(
            [
                pb.VectorDefinition(name="update", length=model.PARAMETERS, bits=32),
                pb.VectorDefinition(name="examples", length=1, bits=32),
            ]
        )
    return agg


def dropped_text(outcome):
    return ", ".join(f"{d.client}@{pb.Stage.Name(d.stage)[len('STAGE_'):].lower()}" for d in outcome.dropped) or "-"


def main():
    args = parse_args()
    with open(args.token_file) as f:
        token = f.read().strip()
    metadata = [("authorization", f"Bearer {token}")]
    test = np.load(args.test)
    channel = grpc.insecure_channel(args.server, options=[("grpc.max_receive_message_length", -1)])
    control = control_pb2_grpc.AggregationControlStub(channel)

    try:
        defined = control.Define(pb.DefineRequest(aggregation=aggregation(args)), metadata=metadata)
    except grpc.RpcError as error:
        print(f"Define refused: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    setting = "malicious setting" if defined.setting == pb.SETTING_MALICIOUS else "semi-honest setting"
    print(f"defined '{defined.name}': {defined.graph}, {setting}" + (f", noise multiplier {defined.noise_multiplier:.3f}" if args.dp else ""))
    events = control.WatchOutcomes(pb.WatchOutcomesRequest(aggregation=args.name), metadata=metadata)

    theta = np.zeros(model.PARAMETERS, dtype=np.float32)
    print(f"{'round':>5}  {'clients':>7}  {'dropped':<16}  {'accuracy':>8}  {'loss':>6}  {'epsilon':>7}  {'ms':>6}")
    started_at = time.monotonic()
    for _ in range(args.rounds):
        control.StartRound(pb.StartRoundRequest(aggregation=args.name, task=model.to_task(theta)), metadata=metadata)
        event = next(events)
        if event.WhichOneof("event") == "ended":
            print(f"aggregation ended: {event.ended.detail}")
            break
        outcome = event.outcome
        if outcome.status == pb.ROUND_STATUS_OK:
            if args.dp:
                # DP-FedAvg: the noisy sum of the clipped updates over the survivors.
                release = np.frombuffer(outcome.release.sum, dtype="<f8")
                theta = (theta + release / len(outcome.survivors)).astype(np.float32)
            else:
                sums = {s.name: np.frombuffer(s.values, dtype="<u4") for s in outcome.sums}
                examples = int(sums["examples"][0])
                theta = (theta + model.decode(sums["update"]) / examples).astype(np.float32)
        else:
            print(f"round {outcome.round} aborted: {outcome.reason}")
        epsilon = f"{outcome.epsilon_spent:7.3f}" if args.dp else f"{'-':>7}"
        print(
            f"{outcome.round:>5}  {len(outcome.survivors):>7}  {dropped_text(outcome):<16}  "
            f"{model.accuracy(theta, test['x'], test['y']):>8.4f}  {model.loss(theta, test['x'], test['y']):>6.3f}  "
            f"{epsilon}  {outcome.duration_ms:>6.0f}"
        )

    stopped = control.Stop(pb.StopRequest(aggregation=args.name), metadata=metadata)
    ended = next(e for e in events if e.WhichOneof("event") == "ended").ended
    print(f"stopped after round {stopped.last_round} ({pb.EndReason.Name(ended.reason)})")
    if args.dp:
        budget = control.GetBudget(pb.GetBudgetRequest(aggregation=args.name), metadata=metadata)
        print(f"privacy: epsilon {budget.epsilon_spent:.3f} of {budget.target_epsilon} at delta {budget.delta:g} ({budget.accountant})")
    print(
        f"final: accuracy={model.accuracy(theta, test['x'], test['y']):.4f} rounds={stopped.last_round} "
        f"seconds={time.monotonic() - started_at:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
