"""The trajectory's record of one model call: a step."""

from __future__ import annotations


def make_step_record(number: int, reply) -> dict:
    """Tokens by class, cost as billed and uncached, seconds and attempts of the reply; no tool call yet."""
    return {"step": number, "tokens_in": reply.tokens_in, "tokens_out": reply.tokens_out, "cost": reply.cost,
            "model_seconds": round(reply.seconds, 3), "attempts": reply.attempts, "reasoning": reply.reasoning,
            "tool_calls": [], "tool_seconds": 0.0, "tokens_cached": reply.tokens_cached,
            "tokens_cache_write": reply.tokens_cache_write, "tokens_reasoning": reply.tokens_reasoning,
            "cost_uncached": reply.cost_uncached}
