"""Cost as billed, measured on real trajectories: prompt caching and context compaction.

    python scripts/bench_cost.py [--sample 100] [--seed 0] [--longest N] [--window 128000] [--json out.json]

Replays the real runs in /work/shared/data/trajectories/gemini-3-pro-mini-v1.15.jsonl.gz (mini-SWE-agent +
Gemini 3 Pro on SWE-bench Verified: real step counts and outputs) through patchmix's own agent loop and model
seam, the real litellm client, and the scripted server's Anthropic Messages API with its faithful prefix cache
(harness/scripted/caching.py; tokens = characters / 4 of each real request, 5-minute expiry, 1024-token minimum).
Each recorded reply becomes the scripted reply (its text, and its bash block as a `bash` call; the last one a
`submit`), each recorded command output the tool's answer, so every request is the real conversation. Prices
are litellm's table for claude-sonnet-4-5 (input, output, cache read, cache write).

Figures: cost per run as billed with caching and as it would be with every prompt token at the input price,
the cache hit share of prompt tokens (all runs, and runs of 20+ steps), and, on a `--window` token context,
how many runs would end `context_limit` without compaction (a prompt above the window) and with it (the
server refuses such a prompt; the run compacts at 0.8 of the window, the summary scripted at ~2,000 tokens).
A sample of runs keeps the runtime reasonable on a busy machine (all 496: `--sample 0`; `--longest N`: the N
runs with the longest histories, where the context window matters).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

from harness.agent.compaction import make_compaction
from harness.agent.config import LimitsConfig, ModelConfig
from harness.agent.loop import Agent
from harness.agent.model.query import Model
from harness.agent.tools.calls import Observation, load_tools
from harness.scripted.server import ScriptedServer

DATA = Path("/work/shared/data/trajectories/gemini-3-pro-mini-v1.15.jsonl.gz")
MODEL = "claude-sonnet-4-5"
BASH_BLOCK = re.compile(r"```bash\s*\n(.*?)```", re.DOTALL)
SUMMARY = {"when": "outgrow your context window",
           "content": "Found, changed, verified, next: " + "a concrete line of the run's state. " * 230}
NO_LIMITS = LimitsConfig(step_limit=0, cost_limit=0, wall_time_limit=0, timeout_limit=0, format_limit=0)


def read_runs(path: Path, sample: int, seed: int, longest: int = 0) -> list[dict]:
    """A random sample of the runs (all with `sample` 0), or with `longest` the runs with the longest histories."""
    with gzip.open(path, "rt") as handle:
        runs = [json.loads(line) for line in handle]
    if longest:
        return sorted(runs, key=lambda run: -len(json.dumps(run["messages"])))[:longest]
    return random.Random(seed).sample(runs, sample) if 0 < sample < len(runs) else runs


def make_replies(messages: list[dict]) -> tuple[list[dict], list[str]]:
    """The scripted replies (text and bash call; the last a submit) and the tool outputs, from a real run."""
    turns = [i for i, message in enumerate(messages) if message["role"] == "assistant"]
    replies, outputs = [], []
    for number, index in enumerate(turns):
        text = messages[index]["content"]
        found = BASH_BLOCK.search(text)
        last = number == len(turns) - 1
        call = {"name": "submit", "arguments": {}} if last else {
            "name": "bash", "arguments": {"command": found.group(1).strip() if found else ""}}
        replies.append({"content": BASH_BLOCK.sub("", text).strip(), "tool_calls": [call]})
        following = messages[index + 1]["content"] if index + 1 < len(messages) else ""
        outputs.append(following if isinstance(following, str) else json.dumps(following))
    return replies, outputs


class ReplayToolBox:
    """Answers each call with the output the real run got."""

    def __init__(self, outputs: list[str]):
        self.outputs, self.index = outputs, 0

    def run(self, name: str, args: dict, deadline: float | None = None) -> Observation:
        text = self.outputs[self.index] if self.index < len(self.outputs) else ""
        self.index += 1
        return Observation(text=text, submitted=name == "submit")


def make_script(runs: list[dict], window: int | None) -> dict:
    scripts = []
    for run in runs:
        replies, _ = make_replies(run["messages"])
        scripts.append({"match": run["messages"][1]["content"][:400], "replies": replies, "summary": SUMMARY})
    script = {"models": {MODEL: scripts}, "caching": {"ttl": 300, "minimum": 1024}}
    if window:
        script["context_windows"] = {MODEL: window}
    return script


def replay(server: ScriptedServer, run: dict, window: int | None, compaction: bool) -> dict:
    config = ModelConfig(name=f"anthropic/{MODEL}", api_base=server.anthropic_base, api_key_env="BENCH_KEY",
                         retries=2, retry_wait=0.01, context_window=window, compaction=compaction)
    model = Model(config)
    _, outputs = make_replies(run["messages"])
    agent = Agent(model, ReplayToolBox(outputs), load_tools(), NO_LIMITS,
                  compaction=make_compaction("compaction.j2", None, window, compaction))
    state = agent.run(run["messages"][0]["content"], run["messages"][1]["content"])
    prompts = [step["tokens_in"] for step in state.steps]
    return {"instance_id": run["instance_id"], "exit_status": state.exit_status, "steps": len(state.steps),
            "cost": state.cost, "cost_uncached": state.cost_uncached, "tokens_in": state.tokens_in,
            "tokens_cached": state.tokens_cached, "max_prompt": max(prompts, default=0),
            "compactions": sum(1 for step in state.steps if step.get("compaction"))}


def replay_all(runs: list[dict], window: int | None, compaction: bool) -> list[dict]:
    results = []
    with ScriptedServer(make_script(runs, window), record=False) as server:
        for number, run in enumerate(runs, 1):
            results.append(replay(server, run, window, compaction))
            print(f"{number}/{len(runs)} {run['instance_id']}: {results[-1]['steps']} steps", file=sys.stderr)
    return results


def share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def summarise(results: list[dict], window: int, compacted: list[dict]) -> dict:
    long_runs = [r for r in results if r["steps"] >= 20]
    costs, uncached = [r["cost"] for r in results], [r["cost_uncached"] for r in results]
    return {
        "runs": len(results), "runs_20_plus_steps": len(long_runs),
        "mean_cost_per_run": statistics.mean(costs), "mean_cost_per_run_uncached": statistics.mean(uncached),
        "median_cost_per_run": statistics.median(costs),
        "median_cost_per_run_uncached": statistics.median(uncached),
        "uncached_over_cached": share(sum(uncached), sum(costs)),
        "cache_hit_share": share(sum(r["tokens_cached"] for r in results), sum(r["tokens_in"] for r in results)),
        "cache_hit_share_20_plus_steps": share(sum(r["tokens_cached"] for r in long_runs),
                                               sum(r["tokens_in"] for r in long_runs)),
        "min_run_hit_share_20_plus_steps": min((share(r["tokens_cached"], r["tokens_in"]) for r in long_runs),
                                               default=None),
        "window": window,
        "context_limit_without_compaction": sum(r["max_prompt"] > window for r in results),
        "context_limit_with_compaction": sum(r["exit_status"] == "context_limit" for r in compacted),
        "compacted_runs": sum(r["compactions"] > 0 for r in compacted),
        "compactions": sum(r["compactions"] for r in compacted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=100, help="runs replayed (0: all 496)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--longest", type=int, default=0, help="replay the N runs with the longest histories")
    parser.add_argument("--window", type=int, default=128_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_KEY", "sk-bench")
    runs = read_runs(DATA, args.sample, args.seed, args.longest)
    began = time.monotonic()
    results = replay_all(runs, None, False)
    over = {r["instance_id"] for r in results if r["max_prompt"] > 0.8 * args.window}
    compacted = replay_all([run for run in runs if run["instance_id"] in over], args.window, True)
    figures = summarise(results, args.window, compacted) | {"seconds": round(time.monotonic() - began, 1)}
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "runs": results, "compacted": compacted}, indent=1))


if __name__ == "__main__":
    main()
