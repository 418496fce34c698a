"""The chat templates of the common open-weight models (Qwen3, Qwen3-Coder, Kimi K2 Instruct and Thinking, GLM-4.6,
MiniMax-M2, DeepSeek-V3.1 and V3.2, gpt-oss) render every request patchmix sends.

The conversation is a real one: a scripted model over HTTP drives a real agent run on a bundled task (a turn of
only tool calls with its reasoning, a turn of text, reasoning and a call, a call with malformed arguments, a plain
call, a submit), and what is rendered is the body of its last request as the server received it: messages and
`tools`. Each template (vendored in tests/fixtures/chat_templates/, sources in the README there, with vLLM's
tool template for DeepSeek-V3.1, whose own template describes no tool) is rendered the
way the servers do: Jinja2's `ImmutableSandboxedEnvironment` with `trim_blocks`, `lstrip_blocks`, a `tojson` that
does not escape HTML, `raise_exception` and `strftime_now` (transformers' `apply_chat_template`, which vLLM and
SGLang call; llama.cpp's own Jinja engine follows the same semantics), after the server's own preparation of the
messages (`SERVER_PREPARATION`). The output must hold everything patchmix sent: the system prompt, the task, every
tool schema, every earlier call's name and arguments, every tool result, the model's text, and, for templates that
keep the reasoning of the turns since the last user message (interleaved thinking), that reasoning. The last test
runs llama-cpp-python's own formatter, which hands the template the arguments unparsed."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import jinja2.ext
import pytest
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

pytestmark = pytest.mark.docker

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "chat_templates"
UNITCONV = "patchmix__unitconv-1"
TEMPERATURE = "/testbed/unitconv/temperature.py"
LOOK = {"reasoning_content": "First I read the conversion code.",
        "tool_calls": [{"name": "bash", "arguments": {"command": "grep -n 'scale ==' unitconv/temperature.py"}}]}
FIX = {"content": "The subtraction binds after the division; I add parentheses.",
       "reasoning_content": "Operator precedence: value - 32 * 5 / 9 is wrong.",
       "tool_calls": [{"name": "str_replace_editor", "arguments": {
           "command": "str_replace", "path": TEMPERATURE,
           "old_str": "return value - 32 * 5 / 9", "new_str": "return (value - 32) * 5 / 9"}}]}
BROKEN = {"reasoning_content": "Now I run the conversion.",
          "tool_calls": [{"name": "bash", "raw_arguments": '{"command": "python -c'}]}
CHECK = {"reasoning_content": "My call was cut; again, whole.",
         "tool_calls": [{"name": "bash", "arguments": {
             "command": "python -c \"from unitconv import convert; print(convert(212, 'F', 'C'))\""}}]}
SUBMIT = {"tool_calls": [{"name": "submit", "arguments": {}}]}


def parse_arguments(messages: list[dict]) -> list[dict]:
    """vLLM (`_postprocess_messages` in its chat utils, which also passes `reasoning_content` on), SGLang (its serving_chat) and Ollama
    (whose API holds arguments as a map) turn each call's JSON arguments into a mapping before the template
    sees them; llama.cpp does the same for a template that reads them as one (`func_args_not_string` in
    common/chat.cpp). Each of them refuses arguments that are not JSON."""
    messages = copy.deepcopy(messages)
    for message in messages:
        for call in message.get("tool_calls") or []:
            arguments = call["function"].get("arguments") or "{}"
            call["function"]["arguments"] = json.loads(arguments) if isinstance(arguments, str) else arguments
    return messages


def prepare_for_gpt_oss(messages: list[dict]) -> list[dict]:
    """llama.cpp's preparation for gpt-oss (common/parsers/gpt-oss.cpp): `reasoning_content` becomes the
    template's `thinking`, and a tool-call turn that has it loses its `content` (the template refuses both)."""
    prepared = []
    for message in parse_arguments(messages):
        if isinstance(message.get("reasoning_content"), str):
            message = {**message, "thinking": message["reasoning_content"]}
            if message.get("tool_calls"):
                message.pop("content", None)
        prepared.append(message)
    return prepared


SERVER_PREPARATION = {"openai-gpt-oss-120b.jinja": prepare_for_gpt_oss}
"""Templates whose server prepares the messages beyond `parse_arguments`."""

HF, LLAMACPP = "transformers", "llama.cpp"
"""How a template is run: transformers' immutable sandbox (vLLM, SGLang), or llama.cpp's own engine, which lets a
template append to a list (its adapted Kimi templates do) and calls `from_json` (its DeepSeek-V3.2 template)."""
GPT_OSS = {"text_in_reasoning": True}
"""The model settings gpt-oss needs (docs/guides/local-servers.md); every other family: none."""

CASES = [
    # (template, engine, model settings, keeps the reasoning since the last user message, describes the tools,
    #  extra template variables)
    ("Qwen-Qwen3-0.6B.jinja", HF, {}, True, True, {}),
    ("Qwen3-Coder.jinja", HF, {}, False, True, {}),
    ("moonshotai-Kimi-K2.jinja", HF, {}, False, True, {}),
    ("moonshotai-Kimi-K2-Thinking.jinja", HF, {}, True, True, {}),
    ("Kimi-K2-Instruct.jinja", LLAMACPP, {}, False, True, {}),
    ("Kimi-K2-Thinking.jinja", LLAMACPP, {}, True, True, {}),
    ("GLM-4.6.jinja", HF, {}, True, True, {}),
    ("MiniMax-M2.jinja", HF, {}, True, True, {}),
    ("deepseek-ai-DeepSeek-V3.1.jinja", HF, {}, False, False, {"thinking": True}),
    ("vllm-tool_chat_template_deepseekv31.jinja", HF, {}, False, True, {"thinking": True}),
    ("deepseek-ai-DeepSeek-V3.2.jinja", LLAMACPP, {}, True, True, {"thinking": True}),
    ("openai-gpt-oss-120b.jinja", LLAMACPP, GPT_OSS, True, True, {"reasoning_effort": "low"}),
]


def make_environment(engine: str = HF) -> SandboxedEnvironment:
    """Jinja2 set up as transformers' `apply_chat_template` sets it up (and so vLLM and SGLang), or, for
    llama.cpp, a sandbox that lets a template change its own lists, with llama.cpp's `from_json`."""
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    kind = ImmutableSandboxedEnvironment if engine == HF else SandboxedEnvironment
    environment = kind(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    environment.filters["tojson"] = tojson
    if engine == LLAMACPP:
        environment.filters["from_json"] = json.loads
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = lambda pattern: datetime.now().strftime(pattern)
    return environment


def render(name: str, engine: str, messages: list[dict], tools: list[dict], extra: dict) -> str:
    prepare = SERVER_PREPARATION.get(name, parse_arguments)
    template = make_environment(engine).from_string((TEMPLATES / name).read_text())
    return template.render(messages=prepare(messages), tools=tools, add_generation_prompt=True,
                           bos_token="<BOS>", eos_token="<EOS>", **extra)


@pytest.fixture(scope="module")
def send(bundled_rows, tmp_path_factory):
    """The last request of a real run against a scripted server with the given model settings, as the server
    received it (one run per settings)."""
    from harness.agent.config import AgentConfig, ContainerConfig, ModelConfig
    from harness.agent.attempt import run_instance
    from harness.scripted.server import ScriptedServer

    bodies = {}

    def run(settings: dict) -> dict:
        key = json.dumps(settings, sort_keys=True)
        if key not in bodies:
            script = {"models": {"agent": [{"match": "", "replies": [LOOK, FIX, BROKEN, CHECK, SUBMIT]}]}}
            with ScriptedServer(script) as server:
                model = ModelConfig(name="openai/agent", api_base=server.api_base, api_key_env="SCRIPTED_API_KEY",
                                    retry_wait=0.01, input_cost_per_token=1e-6, output_cost_per_token=2e-6,
                                    **settings)
                config = AgentConfig(model=model, container=ContainerConfig(command_timeout=20))
                prediction, _ = run_instance(bundled_rows[UNITCONV], config,
                                             tmp_path_factory.mktemp("traj") / "run.traj.json", "chat-templates")
            assert "(value - 32) * 5 / 9" in prediction["model_patch"]
            bodies[key] = server.requests[-1]["body"]
        return bodies[key]

    return run


@pytest.fixture(scope="module")
def sent(send):
    return send({})


def appears(text: str, output: str) -> bool:
    """The text as it is, trimmed (llama.cpp trims every content), or escaped as a JSON string (gpt-oss renders
    tool results with `tojson`)."""
    forms = {text, text.strip(), json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    return any(form in output for form in forms)


def find_missing(messages: list[dict], tools: list[dict], output: str, keeps_reasoning: bool,
                 describes_tools: bool = True) -> list[str]:
    """What patchmix sent that the rendered prompt does not hold."""
    missing = [f"tool {tool['function']['name']}: {key}" for tool in tools if describes_tools
               for key in [tool["function"]["name"], *tool["function"]["parameters"]["properties"]]
               if key not in output]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    for index, message in enumerate(messages):
        texts = [message["content"]] if message.get("content") else []
        for call in message.get("tool_calls") or []:
            arguments = json.loads(call["function"]["arguments"])
            texts += [call["function"]["name"], *arguments, *(v if isinstance(v, str) else json.dumps(v)
                                                              for v in arguments.values())]
        if keeps_reasoning and index > last_user and message.get("reasoning_content"):
            texts.append(message["reasoning_content"])
        missing += [f"message {index} ({message['role']}): {text[:60]!r}" for text in texts
                    if not appears(text, output)]
    return missing


def test_the_conversation_holds_every_kind_of_turn_patchmix_sends(sent):
    messages = sent["messages"]
    assistants = [m for m in messages if m["role"] == "assistant"]
    assert [m["role"] for m in messages[:2]] == ["system", "user"] and sent["tool_choice"] == "auto"
    assert assistants[0]["content"] == "" and assistants[0]["tool_calls"]  # a turn of only tool calls
    assert assistants[1]["content"].startswith("The subtraction binds")  # text and a call
    assert assistants[2]["tool_calls"][0]["function"]["arguments"] == "{}"  # the malformed call, as an object
    assert all(m.get("reasoning_content") for m in assistants)
    tools = [m for m in messages if m["role"] == "tool"]
    assert len(tools) == 4 and all(m["tool_call_id"] and m["content"] for m in tools)
    assert sorted(t["function"]["name"] for t in sent["tools"]) == ["bash", "str_replace_editor", "submit"]


@pytest.mark.parametrize("name,engine,settings,keeps_reasoning,describes_tools,extra", CASES,
                         ids=[case[0] for case in CASES])
def test_each_template_renders_all_that_patchmix_sends(send, name, engine, settings, keeps_reasoning,
                                                       describes_tools, extra):
    sent = send(settings)
    output = render(name, engine, sent["messages"], sent["tools"], extra)
    assert find_missing(sent["messages"], sent["tools"], output, keeps_reasoning, describes_tools) == []
    assert all(appears(m["content"], output) for m in sent["messages"] if m["role"] == "tool")


def test_gpt_oss_behind_llamacpp_keeps_the_text_of_a_tool_turn_only_with_text_in_reasoning(send):
    """llama.cpp hands gpt-oss's template the reasoning of a tool-call turn and drops its text (the template
    refuses both): sent as patchmix sends it by default, the model's words before its call are lost."""
    plain, merged = send({}), send(GPT_OSS)
    text = next(m["content"] for m in plain["messages"] if m["role"] == "assistant" and m["content"])
    name = "openai-gpt-oss-120b.jinja"
    assert text not in render(name, LLAMACPP, plain["messages"], plain["tools"], {})
    assert text in render(name, LLAMACPP, merged["messages"], merged["tools"], {})
    turn = next(m for m in merged["messages"] if m["role"] == "assistant" and text in m["reasoning_content"])
    assert turn["content"] == "" and turn["reasoning_content"].startswith("Operator precedence")


def test_the_check_finds_what_a_template_drops(sent):
    """The check is no formality: transformers' sandbox refuses llama.cpp's adapted Kimi template, the plain
    gpt-oss template refuses a turn with both text and reasoning, Kimi K2 Instruct keeps no reasoning,
    DeepSeek-V3.1's own template describes no tool (its servers need a tool template, see docs/guides/local-servers.md), and
    Qwen3's fails on a turn of only tool calls sent with `content: null`."""
    messages, tools = sent["messages"], sent["tools"]
    with pytest.raises(SecurityError):
        render("Kimi-K2-Instruct.jinja", HF, messages, tools, {})
    with pytest.raises(TemplateError, match="Cannot pass both content and thinking"):
        make_environment(LLAMACPP).from_string((TEMPLATES / "openai-gpt-oss-120b.jinja").read_text()).render(
            messages=[{**m, "thinking": m["reasoning_content"]} if m.get("reasoning_content") else m
                      for m in parse_arguments(messages)], tools=tools, add_generation_prompt=True)
    lost = find_missing(messages, tools, render("moonshotai-Kimi-K2.jinja", HF, messages, tools, {}), True)
    assert len(lost) == 4 and all("assistant" in item for item in lost)
    output = render("deepseek-ai-DeepSeek-V3.1.jinja", HF, messages, tools, {})
    assert "view_range" not in output and "insert_line" not in output
    nulls = [{**m, "content": None} if m["role"] == "assistant" and m["content"] == "" else m for m in messages]
    with pytest.raises(jinja2.exceptions.UndefinedError):  # why a turn of only tool calls goes with `content: ""`
        render("Qwen-Qwen3-0.6B.jinja", HF, nulls, tools, {})


def test_a_malformed_call_sent_as_written_is_refused_by_every_server(sent):
    """Why patchmix sends `{}` for an earlier call whose arguments were not a JSON object: every server parses
    the arguments before the template sees them, and one malformed call would fail every later turn."""
    written = copy.deepcopy(sent["messages"])
    call = next(m for m in written if m["role"] == "assistant" and m["tool_calls"][0]["function"]["arguments"] == "{}")
    call["tool_calls"][0]["function"]["arguments"] = BROKEN["tool_calls"][0]["raw_arguments"]
    with pytest.raises(json.JSONDecodeError):
        render("Qwen3-Coder.jinja", HF, written, sent["tools"], {})


def test_llama_cpp_pythons_server_hands_the_template_arguments_as_text(sent):
    """llama-cpp-python's server (`python -m llama_cpp.server`, its real formatter here) gives the template each
    call's arguments as the JSON text of the request, unparsed: the templates that read them as a mapping
    (Qwen3-Coder, GLM, MiniMax-M2) fail on every turn after the first call, which docs/guides/local-servers.md says, while those
    that take text too (Qwen3, Kimi K2's own) render it."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def format_with(name: str) -> str:
        formatter = Jinja2ChatFormatter((TEMPLATES / name).read_text(), eos_token="<EOS>", bos_token="<BOS>")
        return formatter(messages=sent["messages"], tools=sent["tools"], tool_choice="auto").prompt

    for name in ("Qwen3-Coder.jinja", "GLM-4.6.jinja", "MiniMax-M2.jinja"):
        with pytest.raises((TypeError, ValueError, jinja2.exceptions.UndefinedError)):
            format_with(name)
    for name, keeps_reasoning in (("Qwen-Qwen3-0.6B.jinja", True), ("moonshotai-Kimi-K2-Thinking.jinja", True)):
        assert find_missing(sent["messages"], sent["tools"], format_with(name), keeps_reasoning) == []
