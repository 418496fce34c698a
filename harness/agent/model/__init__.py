"""The model seam: litellm calls, provider errors, prices, token counts and the messages as sent.

`query` holds the `Model` (one call after another, each in a helper thread, until one reply or the run's end);
`request` builds what litellm gets, `reply` reads what came back, `retries` decides what a failure leads to,
`providers` classifies the providers' answers, `pricing` and `usage` price and count, `messages` shapes them.
"""
