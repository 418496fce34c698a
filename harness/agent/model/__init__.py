"""The model seam: litellm calls, provider errors, prices, token counts and the messages as sent."""
