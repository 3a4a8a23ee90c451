"""``make ai-eval``: generate a connector for each API of the evaluation corpus and score it.

    .venv/bin/python benchmarks/ai_eval.py                      # the real model if ANTHROPIC_API_KEY is set
    .venv/bin/python benchmarks/ai_eval.py --fake               # the scripted fake model: offline, as in CI
    .venv/bin/python benchmarks/ai_eval.py --cases rate-limited,oauth2-client-credentials --max-rounds 3
    .venv/bin/python benchmarks/ai_eval.py --json results.json --keep work/

Each case starts a local mock API (offset, cursor and Link-header pagination; API key and OAuth2
client credentials; incremental on updated_at; frequent 429s), runs ``headwater generate`` against
it and prints one line per case: result, rounds, tokens, estimated cost, seconds; then the success
rate. The exit status is 1 when a case failed, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from headwater.ai.client import DEFAULT_MODEL
from headwater.ai.evaluation import CASES, CaseResult, case_named, render_results, run_evaluation
from headwater.ai.loop import Budget


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fake", action="store_true", help="use the scripted fake model (the default without "
                                                          "ANTHROPIC_API_KEY)")
    mode.add_argument("--real", action="store_true", help="use the real model (needs ANTHROPIC_API_KEY)")
    parser.add_argument("--cases", help=f"comma-separated case names (default: all: "
                                        f"{', '.join(case.name for case in CASES)})")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model id (default: %(default)s)")
    parser.add_argument("--max-rounds", type=int, default=4, help="rounds per case (default: %(default)s)")
    parser.add_argument("--budget-usd", type=float, default=2.0, help="dollars per case (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--keep", type=Path, help="generate the projects in this folder and keep them")
    parser.add_argument("--parallel", type=int, default=1, help="cases run at once (default: %(default)s)")
    options = parser.parse_args(argv)

    real = options.real or (not options.fake and bool(os.environ.get("ANTHROPIC_API_KEY")))
    if options.real and not os.environ.get("ANTHROPIC_API_KEY"):
        parser.error("--real needs ANTHROPIC_API_KEY")
    cases = [case_named(name.strip()) for name in options.cases.split(",")] if options.cases else list(CASES)
    budget = Budget(rounds=options.max_rounds, usd=options.budget_usd)
    label = options.model if real else "the fake model"
    print(f"ai-eval: {len(cases)} cases with {label}", flush=True)

    def progress(result: CaseResult) -> None:
        outcome = "pass" if result.succeeded else f"FAIL ({result.status}: {result.reason})"
        print(f"  {result.case}: {outcome} in {result.rounds} round(s), {result.seconds:.1f}s", flush=True)

    if options.keep is not None:
        options.keep.mkdir(parents=True, exist_ok=True)
    results = run_evaluation(cases, fake=not real, model=options.model, workdir=options.keep, budget=budget,
                             parallel=options.parallel,
                             on_result=progress)
    print()
    print(render_results(results, model=options.model, fake=not real), end="")
    if options.json is not None:
        options.json.write_text(json.dumps([result.to_dict() for result in results], indent=2) + "\n",
                                encoding="utf-8")
    return 0 if all(result.succeeded for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
