"""What a model call costs as the provider bills it: each token class at its own price.

A call's prompt splits into tokens read from the provider's cache, tokens written to it (Anthropic bills a
cache write above the input price), and the rest at the input price; the reply's tokens (reasoning included,
as every provider bills them) at the output price. Prices per class come from the config or litellm's table;
a cache price neither knows is the input price (no discount assumed: the cost is never understated for want of
a price). `get_uncached_cost` is what the same tokens would cost with no cache at all (the report's "without
caching").
"""

from __future__ import annotations

from dataclasses import dataclass

import litellm

from harness.agent.config import ModelConfig
from harness.exceptions import ConfigError


@dataclass(frozen=True)
class CachePrices:
    read: float
    """Dollars per prompt token read from the provider's cache."""
    write: float
    """Dollars per prompt token written to the cache (Anthropic's cache creation)."""


def get_prices(config: ModelConfig) -> tuple[float, float]:
    """(input, output) dollars per token, from the config or litellm's table; ConfigError if neither knows."""
    if config.input_cost_per_token is not None and config.output_cost_per_token is not None:
        return config.input_cost_per_token, config.output_cost_per_token
    info = get_table_info(config)
    if info.get("input_cost_per_token") is None or info.get("output_cost_per_token") is None:
        raise ConfigError(f"model {config.name!r} has no price in litellm's table: set both prices in the config")
    return info["input_cost_per_token"], info["output_cost_per_token"]


def get_table_info(config: ModelConfig) -> dict:
    try:
        return litellm.get_model_info(config.name)
    except Exception as error:  # litellm raises a bare Exception for unmapped models
        raise ConfigError(
            f"model {config.name!r} has no known price: set input_cost_per_token and output_cost_per_token "
            f"for it in the config (litellm: {str(error).splitlines()[0][:120]})"
        ) from None


def get_cache_prices(config: ModelConfig, input_price: float) -> CachePrices:
    """Cache read and write prices: the config's, else litellm's table's, else the input price."""
    info = {} if config.input_cost_per_token is not None else get_table_info(config)
    read = pick_price(config.cache_read_input_token_cost, info.get("cache_read_input_token_cost"), input_price)
    write = pick_price(config.cache_creation_input_token_cost, info.get("cache_creation_input_token_cost"),
                       input_price)
    return CachePrices(read=read, write=write)


def pick_price(*prices) -> float:
    return next(float(price) for price in prices if price is not None)


def get_cost(tokens: dict, prices: tuple[float, float], cache: CachePrices) -> float:
    """Dollars of one call from its token classes ({"tokens_in", "tokens_out", "tokens_cached",
    "tokens_cache_write"}); never negative, whatever the counts or prices."""
    tokens_in, cached, written = (max(0, tokens.get(key) or 0) for key in
                                  ("tokens_in", "tokens_cached", "tokens_cache_write"))
    cached, written = min(cached, tokens_in), min(written, max(0, tokens_in - cached))
    plain = tokens_in - cached - written
    dollars = (plain * prices[0] + cached * cache.read + written * cache.write
               + max(0, tokens.get("tokens_out") or 0) * prices[1])
    return max(0.0, dollars)


def get_uncached_cost(tokens: dict, prices: tuple[float, float]) -> float:
    """Dollars of the same call had nothing been cached: every prompt token at the input price."""
    return max(0.0, max(0, tokens.get("tokens_in") or 0) * prices[0]
               + max(0, tokens.get("tokens_out") or 0) * prices[1])
