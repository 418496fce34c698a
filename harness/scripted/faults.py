"""Error answers of real providers, as they send them, for the scripted server to play back.

Each preset is (HTTP status, body, headers). A body that is a str is sent as-is (e.g. an HTML error page from a
proxy); a dict is sent as JSON. The wordings are those the providers' APIs return, so that the harness's
classification of errors is tested against what it meets in a real run.
"""

from __future__ import annotations

OVERFLOW_PRESETS = {
    "openai_overflow": (400, {"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                   "130532 tokens (130000 in the messages, 532 in the functions). Please reduce the length of the "
                   "messages or functions.",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
    "anthropic_overflow": (400, {"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long: 208310 tokens > 200000 maximum"}}),
    "fireworks_overflow": (400, {"error": {
        "object": "error", "type": "invalid_request_error",
        "message": "The prompt is too long: 40177, model maximum context length: 32767"}}),
    "together_overflow": (400, {"id": "o9Xk2-3NKUce4-8c1e", "error": {
        "message": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 32769. "
                   "Given: 40000 `inputs` tokens and 2048 `max_new_tokens`",
        "type": "invalid_request_error", "param": None, "code": None}}),
    "openrouter_overflow": (400, {"error": {
        "message": "This endpoint's maximum context length is 131072 tokens. However, you requested about 140000 "
                   "tokens (137952 of text input, 2048 in the output). Please reduce the length of either one, or "
                   "use the \"middle-out\" transform to compress your prompt automatically.",
        "code": 400, "metadata": {"provider_name": None}}}),
    "vllm_overflow": (400, {
        "object": "error", "type": "BadRequestError", "param": None, "code": 400,
        "message": "This model's maximum context length is 32768 tokens. However, you requested 33792 tokens "
                   "(31744 in the messages, 2048 in the completion). Please reduce the length of the messages or "
                   "completion."}),
    "vllm_overflow_v1": (400, {
        "object": "error", "type": "BadRequestError", "param": None, "code": 400,
        "message": "The decoder prompt (length 40000) is longer than the maximum model length of 32768. Make sure "
                   "that `max_model_len` is no smaller than the number of text tokens."}),
    "ollama_overflow": (500, {"error": {
        "message": "the input length exceeds the context length", "type": "api_error", "param": None,
        "code": None}}),
    "llamacpp_overflow": (400, {"error": {
        "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 40000, "n_ctx": 32768,
        "message": "the request exceeds the available context size, try increasing it"}}),
    # the bodies below are as users reported them in public issues of the providers' clients
    "anthropic_overflow_max_tokens": (400, {"type": "error", "error": {
        "type": "invalid_request_error",
        "message": "input length and `max_tokens` exceed context limit: 178959 + 64000 > 200000, decrease input "
                   "length or `max_tokens` and try again"}, "request_id": "req_011CUB2XUHWkFnQzxcKBbjpF"}),
    "anthropic_overflow_input": (400, {"type": "error", "error": {
        "type": "invalid_request_error", "message": "Input is too long for requested model."}}),
    "xai_overflow_budget": (400, {"code": "Client specified an invalid argument",
                                  "error": "Failed to start sampling: [input_too_large] Current message (1149677 "
                                           "tokens) exceeds budget (975424 tokens)"}),
    "xai_overflow": (400, {"code": "Client specified an invalid argument",
                           "error": "This model's maximum prompt length is 131072 but the request contains 136973 "
                                    "tokens."}),
    "moonshot_overflow": (400, {"error": {
        "message": "Invalid request: Your request exceeded model token limit: 262144 (requested: 269030)",
        "type": "invalid_request_error"}}),
    "gemini_overflow": (400, {"error": {
        "code": 400, "message": "The input token count (1200293) exceeds the maximum number of tokens allowed "
                                "(1048576).",
        "errors": [{"message": "The input token count (1200293) exceeds the maximum number of tokens allowed "
                               "(1048576).", "domain": "global", "reason": "badRequest"}],
        "status": "INVALID_ARGUMENT"}}),
    "deepseek_overflow": (400, {"error": {
        "message": "This model's maximum context length is 131072 tokens. However, you requested 131134 tokens "
                   "(122942 in the messages, 8192 in the completion). Please reduce the length of the messages or "
                   "completion.", "type": "invalid_request_error", "param": None, "code": "invalid_request_error"}}),
    "groq_overflow": (400, {"error": {
        "message": "Please reduce the length of the messages or completion.", "type": "invalid_request_error",
        "param": "messages", "code": "context_length_exceeded"}}),
    "vllm_overflow_total": (400, {
        "object": "error", "type": "BadRequestError", "param": None, "code": 400,
        "message": "This model's maximum context length is 128000 tokens. However, you requested 65535 output "
                   "tokens and your prompt contains at least 62466 input tokens, for a total of at least 128001 "
                   "tokens."}),
}

OTHER_PRESETS = {
    "bad_key": (401, {"error": {
        "message": "Incorrect API key provided: sk-scri************4086. You can find your API key at "
                   "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}),
    "forbidden": (403, {"error": {
        "message": "Your account does not have access to this model.", "type": "permission_denied",
        "param": None, "code": "permission_denied"}}),
    "unknown_model": (404, {"error": {
        "message": "The model `accounts/fireworks/models/no-such-model` does not exist or you do not have access "
                   "to it.", "type": "invalid_request_error", "param": None, "code": "model_not_found"}}),
    "unprocessable": (422, {"detail": [{
        "type": "missing", "loc": ["body", "messages", 0, "content"], "msg": "Field required"}]}),
    "cloudflare_520": (520, "<!DOCTYPE html><html><head><title>api.example.com | 520: Web server is returning an "
                            "unknown error</title></head><body>Error code 520</body></html>"),
    "anthropic_overloaded": (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    "content_filter": (400, {"error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
                   "policy. Please modify your prompt and retry.",
        "type": None, "param": "prompt", "code": "content_filter", "status": 400}}),
    "llamacpp_template_error": (500, {"error": {
        "message": "'dict object' has no attribute 'content'", "type": "internal_server_error", "param": None,
        "code": None}}),
    "rate_limited": (429, {"error": {
        "message": "Rate limit reached for requests per minute. Please try again in 1s.",
        "type": "requests", "param": None, "code": "rate_limit_exceeded"}}),
}

PRESETS = {**OVERFLOW_PRESETS, **OTHER_PRESETS}


def get_preset(name: str) -> tuple[int, dict | str]:
    if name not in PRESETS:
        raise KeyError(f"no provider error preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]
