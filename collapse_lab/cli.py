"""Command line: ``collapse-lab demo`` (more commands are added by the experiment layer)."""

from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    import jax

    import collapse_lab as cl

    family = cl.Gaussian(dim=1, estimator="mle")
    result = cl.run_chains(
        jax.random.key(args.seed),
        family,
        family.source(0.0, 1.0),
        policy=cl.Replace(),
        num_chains=args.num_chains,
        num_generations=args.num_generations,
        num_samples=args.num_samples,
        method="sample",
    )
    table = cl.check(result, false_alarm=args.false_alarm)
    print(
        cl.format_table(
            table,
            f"Gaussian (MLE, replace): {args.num_chains} chains x {args.num_generations} "
            f"generations, n = {args.num_samples}",
        )
    )
    return 0 if table.attrs["passed"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collapse-lab", description="Model-collapse laboratory: resampling chains vs theory."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the default collapse suite and print verdict tables")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--num-chains", type=int, default=20000)
    demo.add_argument("--num-generations", type=int, default=50)
    demo.add_argument("--num-samples", type=int, default=10)
    demo.add_argument("--false-alarm", type=float, default=1e-3)
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
