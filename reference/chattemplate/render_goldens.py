#!/usr/bin/env python3
"""Golden generator for hf/chattemplate (preftune's Go chat-template renderer).

Renders Hugging Face chat templates with Jinja2 set up exactly as transformers'
`_compile_jinja_template` does (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, the `generation` tag, tojson/raise_exception/
strftime_now), loads templates and special tokens from model directories the way
transformers' tokenizer loading does, and writes:

  hf/chattemplate/testdata/goldens.json   model templates x conversations x flags
  hf/chattemplate/testdata/features.json  small templates exercising Jinja features

transformers itself is not installed here (and PyPI is unreachable), so the
few transformers functions involved are reproduced below from its source
(src/transformers/utils/chat_template_utils.py and
tokenization_utils_base.py); Jinja2 is the real library.

strftime_now uses a fixed clock (FIXED_NOW) so that the Llama 3.2 template's
"Today Date" is reproducible; the Go tests inject the same instant.

Usage (from the repository root):  python3 reference/chattemplate/render_goldens.py
"""

import json
import os
import shutil
import sys
import tempfile
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "hf", "chattemplate", "testdata")
FIXED_NOW = datetime(2024, 12, 5, 13, 7, 9)


# ---------------------------------------------------------------------------
# transformers' Jinja environment (chat_template_utils._compile_jinja_template)
# ---------------------------------------------------------------------------


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker without the index tracking: {% generation %}
    renders its body in place."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


def compile_template(source):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


# ---------------------------------------------------------------------------
# transformers' template loading and selection
# ---------------------------------------------------------------------------

SPECIAL_TOKENS_ATTRIBUTES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "additional_special_tokens"]


def token_content(v):
    if isinstance(v, dict):
        return v["content"]
    return v


def load_model_dir(path):
    """Returns (chat_template, special_tokens_map) like a transformers tokenizer
    loaded from `path`: chat_template is a str or a {name: template} dict."""
    kwargs = {}
    cfg_path = os.path.join(path, "tokenizer_config.json")
    chat_template = None
    if os.path.exists(cfg_path):
        with open(cfg_path, encoding="utf-8") as f:
            cfg = json.load(f)
        kwargs.update(cfg)
        chat_template = cfg.get("chat_template")
    stm = os.path.join(path, "special_tokens_map.json")
    if os.path.exists(stm):
        with open(stm, encoding="utf-8") as f:
            kwargs.update(json.load(f))
    jinja_file = os.path.join(path, "chat_template.jinja")
    if os.path.exists(jinja_file):
        with open(jinja_file, encoding="utf-8") as f:
            chat_template = f.read()  # clobbers any template in the config
    if isinstance(chat_template, (list, tuple)):
        chat_template = {t["name"]: t["template"] for t in chat_template}
    extra_dir = os.path.join(path, "additional_chat_templates")
    if os.path.isdir(extra_dir):
        templates = {"default": chat_template} if isinstance(chat_template, str) else dict(chat_template or {})
        for name in sorted(os.listdir(extra_dir)):
            if name.endswith(".jinja"):
                with open(os.path.join(extra_dir, name), encoding="utf-8") as f:
                    templates[name[: -len(".jinja")]] = f.read()
        chat_template = templates
    special = {}
    for attr in SPECIAL_TOKENS_ATTRIBUTES:
        v = kwargs.get(attr)
        if attr == "additional_special_tokens" and v is not None:
            v = [token_content(t) for t in v]
        else:
            v = token_content(v)
        if v:  # special_tokens_map leaves out unset tokens
            special[attr] = v
    return chat_template, special


def get_chat_template(chat_template, tools):
    if isinstance(chat_template, dict):
        if tools is not None and "tool_use" in chat_template:
            return chat_template["tool_use"]
        if "default" in chat_template:
            return chat_template["default"]
        raise ValueError("multiple chat templates with no default")
    if chat_template is None:
        raise ValueError("no chat template")
    return chat_template


def apply_chat_template(chat_template, special, messages, tools=None, documents=None, add_generation_prompt=False, extra=None):
    template = compile_template(get_chat_template(chat_template, tools))
    template_kwargs = {**special, **(extra or {})}
    return template.render(messages=messages, tools=tools, documents=documents, add_generation_prompt=add_generation_prompt, **template_kwargs)


# ---------------------------------------------------------------------------
# models and conversations
# ---------------------------------------------------------------------------

# name -> how to build the model directory: "dir" is used as is; "config" +
# "jinja" copies the tokenizer_config.json and writes the .jinja file as
# chat_template.jinja next to it (the newer HF layout, which takes precedence).
MODELS = {
    "qwen2.5": {"dir": "testdata/tokenizers/qwen2.5"},
    "llama3": {"dir": "testdata/tokenizers/llama3"},
    "mistral": {"dir": "testdata/tokenizers/mistral"},
    "qwen2.5-jinja": {"config": "testdata/tokenizers/qwen2.5/tokenizer_config.json", "jinja": "testdata/chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja"},
    "llama3.1-jinja": {"config": "testdata/tokenizers/llama3/tokenizer_config.json", "jinja": "testdata/chat-templates/meta-llama-Llama-3.1-8B-Instruct.jinja"},
    "llama3.2-jinja": {"config": "testdata/tokenizers/llama3/tokenizer_config.json", "jinja": "testdata/chat-templates/meta-llama-Llama-3.2-3B-Instruct.jinja"},
    "deepseek-r1-jinja": {"config": "testdata/tokenizers/llama3/tokenizer_config.json", "jinja": "hf/chattemplate/testdata/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"},
    "glm4.5-jinja": {"config": "testdata/tokenizers/qwen2.5/tokenizer_config.json", "jinja": "hf/chattemplate/testdata/templates/glm_4_5.jinja"},
    "mistral-small3.1-jinja": {"config": "testdata/tokenizers/mistral/tokenizer_config.json", "jinja": "hf/chattemplate/testdata/templates/mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja"},
    "command-r7b-jinja": {"config": "testdata/tokenizers/llama3/tokenizer_config.json", "jinja": "hf/chattemplate/testdata/templates/CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja"},
    "named": {"dir": "hf/chattemplate/testdata/models/named"},
    "split": {"dir": "hf/chattemplate/testdata/models/split"},
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location (météo, 天气)",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and country, e.g. Paris, France"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 1},
                "threshold": {"type": "number", "default": 0.5},
            },
            "required": ["location"],
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "web_search",
        "description": "Search the web and return \"snippets\" <b>with</b> tags & quotes",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "top_k": {"type": "integer"}}, "required": ["query"]},
    },
}

TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

CONVERSATIONS = {
    "single_user": {"messages": [{"role": "user", "content": "Hello!"}]},
    "system_user": {"messages": [{"role": "system", "content": "You are a concise assistant."}, {"role": "user", "content": "What is 2+2?"}]},
    "multi_turn": {
        "messages": [
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Tell me a joke."},
        ]
    },
    "system_multi_turn_assistant_last": {
        "messages": [
            {"role": "system", "content": "  Be helpful.\n"},
            {"role": "user", "content": "Name a prime."},
            {"role": "assistant", "content": "7"},
            {"role": "user", "content": "Another one?"},
            {"role": "assistant", "content": "11 is also prime."},
        ]
    },
    "assistant_last": {"messages": [{"role": "user", "content": "Say yes."}, {"role": "assistant", "content": "Yes."}]},
    "unicode": {
        "messages": [
            {"role": "system", "content": "你是一个乐于助人的助手。🙂"},
            {"role": "user", "content": "  你好，世界！🌍 Ünïcödé — «quotes» \u2028 tab\there  \n"},
            {"role": "assistant", "content": "こんにちは 👋🏽 Ελληνικά\n"},
            {"role": "user", "content": "emoji only: 🎉🎉"},
        ]
    },
    "special_chars": {
        "messages": [
            {"role": "user", "content": "Quotes ' and \" and backslash \\ and {{ braces }} {% tags %} <tag attr=\"1\">&amp;</tag>"},
            {"role": "assistant", "content": "\n\nLeading newlines, trailing spaces   "},
            {"role": "user", "content": ""},
        ]
    },
    "invalid_order": {"messages": [{"role": "user", "content": "first"}, {"role": "user", "content": "second"}]},
    "assistant_first": {"messages": [{"role": "assistant", "content": "I speak first."}, {"role": "user", "content": "ok"}]},
    "tool_call_roundtrip": {
        "tools": TOOLS,
        "messages": [
            {"role": "system", "content": "You can call tools."},
            {"role": "user", "content": "What's the weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_current_weather", "arguments": {"location": "Paris, France", "unit": "celsius", "days": 3, "threshold": 2.5, "flags": [True, False, None], "nested": {"z": 1, "a": [1, 2.0, "é"]}}},
                    }
                ],
            },
            {"role": "tool", "name": "get_current_weather", "tool_call_id": "call_1", "content": "{\"temperature\": 21, \"condition\": \"sunny\"}"},
            {"role": "assistant", "content": "It is 21°C and sunny in Paris."},
        ],
    },
    "tool_call_no_system": {
        "tools": [WEATHER_TOOL],
        "messages": [
            {"role": "user", "content": "Weather in Tokyo and Osaka?"},
            {
                "role": "assistant",
                "content": "Let me check both.",
                "tool_calls": [
                    {"type": "function", "function": {"name": "get_current_weather", "arguments": {"location": "Tokyo"}}},
                    {"name": "get_current_weather", "arguments": {"location": "Osaka", "unit": "celsius"}},
                ],
            },
            {"role": "tool", "content": "Tokyo: 18"},
            {"role": "tool", "content": "Osaka: 20"},
        ],
    },
    "tool_result_mapping": {
        "tools": [SEARCH_TOOL],
        "messages": [
            {"role": "user", "content": "Search for jinja"},
            {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "web_search", "arguments": {"query": "jinja2 sandbox", "top_k": 2}}}]},
            {"role": "tool", "content": {"results": ["Jinja2 docs", "Sandbox"], "count": 2, "score": 0.75}},
        ],
    },
    "empty_tools_list": {"tools": [], "messages": [{"role": "user", "content": "No tools today."}]},
    "llama_date_and_system_tools": {
        "tools": [WEATHER_TOOL],
        "extra": {"date_string": "01 Jan 2025", "tools_in_user_message": False},
        "messages": [{"role": "system", "content": "Use tools wisely."}, {"role": "user", "content": "Is it raining in Oslo?"}],
    },
    "tool_call_string_arguments": {
        "tools": [WEATHER_TOOL],
        "messages": [
            {"role": "user", "content": "Weather in Rome?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_abc123456", "type": "function", "function": {"name": "get_current_weather", "arguments": "{\"location\": \"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_abc123456", "content": "sunny, 25"},
            {"role": "tool", "tool_call_id": "call_def987654", "content": "extra result"},
            {"role": "assistant", "content": "<think>reasoning here</think>\n\nIt is sunny in Rome."},
            {"role": "user", "content": "Thanks"},
        ],
    },
    "documents_and_thinking": {
        "documents": [{"title": "Doc A", "text": "Alpha « beta »"}, {"title": "Doc B", "text": "Gamma"}],
        "extra": {"enable_thinking": False, "enable_citations": True},
        "messages": [
            {"role": "system", "content": "Answer from documents."},
            {"role": "user", "content": "Summarise the documents"},
            {"role": "assistant", "content": "Both mention Greek letters.", "reasoning_content": "Doc A and B have letters."},
            {"role": "user", "content": "Thanks /nothink"},
        ],
    },
    "empty_conversation": {"messages": []},
}


def build_model(spec, tmp):
    if "dir" in spec:
        return os.path.join(ROOT, spec["dir"])
    d = tempfile.mkdtemp(dir=tmp)
    shutil.copy(os.path.join(ROOT, spec["config"]), os.path.join(d, "tokenizer_config.json"))
    shutil.copy(os.path.join(ROOT, spec["jinja"]), os.path.join(d, "chat_template.jinja"))
    return d


def render_case(fn):
    try:
        return {"expected": fn()}
    except Exception as e:  # recorded as an expected error
        return {"error": str(e), "error_type": type(e).__name__}


def make_goldens():
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, spec in MODELS.items():
            chat_template, special = load_model_dir(build_model(spec, tmp))
            for conv_name, conv in CONVERSATIONS.items():
                for agp in (False, True):
                    tools, docs, extra = conv.get("tools"), conv.get("documents"), conv.get("extra")
                    case = {"model": model, "conversation": conv_name, "add_generation_prompt": agp}
                    case.update(render_case(lambda: apply_chat_template(chat_template, special, conv["messages"], tools, docs, agp, extra)))
                    cases.append(case)
    return {
        "generator": "reference/chattemplate/render_goldens.py",
        "jinja2_version": jinja2.__version__,
        "now": FIXED_NOW.isoformat(),
        "models": MODELS,
        "conversations": CONVERSATIONS,
        "cases": cases,
    }


# ---------------------------------------------------------------------------
# Jinja feature table
# ---------------------------------------------------------------------------

# (name, template, variables). Rendered with messages=[], tools=None,
# documents=None, add_generation_prompt=False plus the variables, like a chat
# template with extra kwargs.
FEATURES = [
    # output of Python values
    ("print_none_bool", "{{ none }}|{{ None }}|{{ true }}|{{ False }}|{{ x }}|{{ y }}", {"x": None, "y": True}),
    ("print_numbers", "{{ 1 }} {{ -3 }} {{ 1.0 }} {{ 2.50 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.0001 }} {{ 123456789.123 }} {{ 1e22 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ -0.0 }}", {}),
    ("print_json_numbers", "{{ i }} {{ f }} {{ big }} {{ small }} {{ whole }}", {"i": 42, "f": 3.14, "big": 1.5e300, "small": 2.5e-8, "whole": 7.0}),
    ("print_containers", "{{ [1, 'a', none, true, 2.5] }} {{ (1,) }} {{ (1, 'b') }} {{ () }} {{ {'k': 'v', 'n': none, 1: [2]} }} {{ d }}", {"d": {"z": 1, "a": {"x": [1, "y"]}, "q": "it's"}}),
    ("print_string_repr", "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\nbs\\\\', 'é😀', '\\x01'] }}", {}),
    ("print_undefined", "[{{ missing }}][{{ d.missing }}][{{ d['missing'] }}][{{ l[10] }}]", {"d": {"a": 1}, "l": [1]}),
    ("string_escapes", "{{ 'a\\tb\\u00e9\\x41\\N{BULLET}\\q\\'' }}|{{ \"dq \\\" \\n\" }}|{{ 'adjacent' ' strings' }}", {}),
    # arithmetic and operators
    ("arith", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 8 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 0.5 }}", {}),
    ("arith_mixed", "{{ 1 + 2.0 }} {{ true + 1 }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] * 2 }} {{ [1] + [2, 3] }} {{ 'a' + 'b' }} {{ -x }} {{ +x }}", {"x": 4}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ not 1 == 2 }} {{ 1 ~ 2 * 3 }} {{ - 2 | abs }} {{ 10 - 2 - 3 }} {{ 2 * 3 % 4 }}", {}),
    ("error_precedence_tilde_binds_tighter_than_plus", "{{ 'a' ~ 1 + 2 }}", {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ true ~ [1] ~ missing ~ 2.0 }}", {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 != '1' }} {{ none == none }} {{ true == 1 }} {{ missing == missing }} {{ missing != 'x' }}", {}),
    ("in_operator", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in d }} {{ 'v' in d }} {{ 3 not in [1, 2] }} {{ 'x' not in 'xyz' }} {{ 1 in (1, 2) }}", {"d": {"k": "v"}}),
    ("logic_values", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or [] }} {{ not [] }} {{ not 'a' }}", {}),
    ("truthiness", "{% for v in [0, 1, '', 'a', [], [0], {}, {'a': 1}, none, 0.0, 0.1, true, false] %}{{ 'T' if v else 'F' }}{% endfor %}{{ 'T' if missing else 'F' }}", {}),
    ("conditional_expr", "{{ 'yes' if x else 'no' }}|{{ 'a' if 0 }}|{{ 'n' if x > 5 else 'm' if x > 1 else 'l' }}", {"x": 3}),
    # attribute and item access
    ("getattr_getitem", "{{ d.a }} {{ d['a'] }} {{ d.b.c }} {{ d['b']['c'] }} {{ l[0] }} {{ l[-1] }} {{ l.1 }} {{ t[1] }} {{ s[0] }} {{ s[-2] }}", {"d": {"a": 1, "b": {"c": "deep"}}, "l": [10, 20, 30], "t": [5, 6], "s": "hello"}),
    ("dict_method_shadowing", "{{ d.get('items', 'x') }} {{ d['items'] }} {{ d.get('nope', 'dflt') }} {{ d.get('nope') }} {{ d.keys() | list }} {{ d.values() | list }}", {"d": {"items": "key-items", "a": 1}}),
    ("slicing", "{{ l[1:] }} {{ l[:2] }} {{ l[::2] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[1:-1] }} {{ l[5:] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[-3:] }} {{ l[-1:-3:-1] }}", {"l": [1, 2, 3, 4], "s": "héllo😀"}),
    ("loop_over_dict_and_string", "{% for k in d %}{{ k }},{% endfor %}|{% for c in 'ab😀' %}[{{ c }}]{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"b": 2, "a": 1}}),
    # loops
    ("loop_vars", "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {"l": ["a", "b", "c"]}),
    ("loop_prev_next_cycle", "{% for x in l %}{{ loop.previtem }}>{{ x }}>{{ loop.nextitem }}:{{ loop.cycle('odd', 'even') }} {% endfor %}", {"l": [1, 2, 3]}),
    ("loop_changed_depth", "{% for x in l %}{% if loop.changed(x) %}{{ x }}{% endif %}{% for y in [1] %}{{ loop.depth }}{% endfor %}{{ loop.depth0 }}{% endfor %}", {"l": [1, 1, 2, 2, 3]}),
    ("loop_else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}|{% for x in missing %}x{% else %}undef-empty{% endfor %}", {}),
    ("loop_filter_if", "{% for x in range(10) if x is odd %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}", {}),
    ("loop_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_nested_break", "{% for a in [1, 2, 3] %}{% for b in [1, 2, 3] %}{% if b > a %}{% break %}{% endif %}{{ a }}{{ b }} {% endfor %}{% endfor %}", {}),
    ("loop_unpack", "{% for a, b in [[1, 2], (3, 4)] %}{{ a }}-{{ b }};{% endfor %}{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %}", {"d": {"b": 2, "a": 1}}),
    ("loop_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }};{% endfor %}{{ x }}", {}),
    ("loop_scoping_fresh_iteration", "{% for i in [1, 2, 3] %}[{{ y }}]{% set y = i %}{% endfor %}", {}),
    ("if_scope_leaks", "{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for x in [1, 2, 3] %}{% set ns.count = ns.count + x %}{% if x == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }} {{ ns.missing }}", {}),
    ("set_tuple_and_block", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set block %}  inner {{ a }}  {% endset %}[{{ block }}]{% set up | upper | trim %} shout {% endset %}[{{ up }}]", {}),
    ("context_var_reassign", "{% set conv = conv[1:] %}{{ conv | length }}{% for m in conv %}{{ m.role }}{% endfor %}", {"conv": [{"role": "system"}, {"role": "user"}, {"role": "assistant"}]}),
    ("with_block", "{% with a = 1, b = 'x' %}{{ a }}{{ b }}{% set c = 3 %}{{ c }}{% endwith %}[{{ a }}{{ c }}]", {}),
    ("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}|{% filter trim | replace('a', 'o') %}  banana  {% endfilter %}", {}),
    ("generation_block", "A{% generation %}[{{ 'gen' }}]{% endgeneration %}B", {}),
    # macros
    ("macro_basic", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet(greeting='Yo', name='Cy') }}", {}),
    ("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}|{{ varargs }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", {}),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}][{{ b }}]{% endmacro %}{{ m(1) }}", {}),
    ("macro_sees_globals", "{% set x = 'top' %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 'later' %}{{ m() }}{% for x in ['loopvar'] %}{{ m() }}{% endfor %}", {}),
    ("macro_default_uses_param", "{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}", {}),
    ("macro_recursion", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * (fact(n - 1) | int) }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    # whitespace control
    ("ws_trim_blocks", "{% if true %}\nline\n{% endif %}\nafter", {}),
    ("ws_lstrip_blocks", "    {% if true %}\n    indented\n    {% endif %}\n  {{ 'var keeps indent' }}\n", {}),
    ("ws_minus", "a   {%- if true -%}   b   {%- endif -%}   c\n\n  {{- ' d ' -}}  \n e", {}),
    ("ws_plus", "x  {%+ if true %}y{% endif +%}\nz\n  {%+ if true %}w{% endif %}", {}),
    ("ws_comment", "a\n  {# comment #}\nb {#- trimmed -#}   c\n{# multi\nline #}\nd", {}),
    ("ws_var_no_trim", "{{ 'a' }}\n{{ 'b' }}\n    {{ 'c' }}", {}),
    ("ws_inline_block_mid_line", "text {% if true %}X{% endif %} more\n  {% if true %}Y{% endif %}\n", {}),
    ("ws_crlf_and_trailing_newline", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\n", {}),
    ("ws_keeps_one_trailing_newline_of_two", "end\n\n", {}),
    ("ws_raw", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}\n  {% raw -%}   x {{ y }}   {%- endraw %}!", {}),
    ("ws_minus_unicode_space", "a\u3000\u00a0 {%- if true %}b{% endif -%}\u3000 c", {}),
    # filters
    ("filter_trim_strip", "[{{ '  a b \\n' | trim }}][{{ 'xxaxx' | trim('x') }}][{{ '  s  '.strip() }}][{{ '--s--'.strip('-') }}][{{ '  l'.lstrip() }}][{{ 'r  '.rstrip() }}][{{ 'abcab'.rstrip('ab') }}]", {}),
    ("filter_split", "{{ ' a  b\\tc\\n'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c d'.split(' ', 1) }} {{ 'a b c d'.rsplit(' ', 1) }} {{ '  x  y  '.split(none, 1) }} {{ 'k=v=w'.split('=', maxsplit=1) }}", {}),
    ("string_methods_case", "{{ 'hello world'.title() }} {{ \"they're bill's\".title() }} {{ 'hELLO'.capitalize() }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ 'MiXeD'.swapcase() }}", {}),
    ("string_methods_misc", "{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'a-b-c'.replace('-', '+') }} {{ 'a-b-c'.replace('-', '+', 1) }} {{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.count('l') }} {{ ', '.join(['a', 'b']) }} {{ '42'.isdigit() }} {{ 'ab'.isalpha() }} {{ '7'.zfill(3) }} {{ 'ab'.center(6, '*') }} {{ 'ab'.ljust(4, '.') }}|{{ 'ab'.rjust(4) }}", {}),
    ("string_format_method", "{{ '{} and {}'.format('a', 'b') }} {{ '{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='N') }} {{ '{:>5}|{:<4}|{:^6}|{:.2f}|{:05d}'.format('r', 'l', 'c', 3.14159, 42) }} {{ '{{literal}}'.format() }}", {}),
    ("string_percent_format", "{{ '%s is %d years' % ('Ann', 30) }} {{ '%.2f' % 3.14159 }} {{ '%5s|%-5s|' % ('a', 'b') }} {{ '%(k)s' % {'k': 'mapped'} }} {{ '%r' % 'q' }} {{ 'x%%' % () }} {{ '%s' | format('via filter') }}", {}),
    ("filter_replace_count", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'abc' | replace('', '-') }}", {}),
    ("filter_case", "{{ 'hello WORLD' | title }} {{ 'hello-world (foo) [bar]' | title }} {{ 'hELLO wORLD' | capitalize }} {{ 'Ab' | upper }} {{ 'Ab' | lower }} {{ none | string }} {{ 5 | string }}", {}),
    ("filter_length_count", "{{ 'héllo😀' | length }} {{ [1, 2] | length }} {{ {'a': 1} | length }} {{ missing | length }} {{ [1, 2, 3] | count }}", {}),
    ("filter_first_last", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} {{ 'abc' | last }} {{ d | first }} [{{ [] | first }}]", {"d": {"k1": 1, "k2": 2}}),
    ("filter_join", "{{ ['a', 'b', 'c'] | join }} {{ ['a', 'b'] | join(', ') }} {{ [1, none, true] | join('-') }} {{ users | join(', ', attribute='name') }} [{{ missing | join(',') }}]", {"users": [{"name": "x"}, {"name": "y"}]}),
    ("filter_default", "{{ missing | default('dflt') }} {{ none | default('dflt') }} {{ '' | default('dflt', true) }} {{ 'v' | d('dflt') }} {{ missing | d }}|", {}),
    ("filter_list_reverse", "{{ 'abc' | list }} {{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }} {{ d | list }} {{ (1, 2) | list }}", {"d": {"b": 1, "a": 2}}),
    ("filter_sort", "{{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ users | sort(attribute='age') | map(attribute='name') | join(',') }} {{ users | sort(attribute='age,name') | map(attribute='name') | join(',') }}", {"users": [{"name": "b", "age": 30}, {"name": "a", "age": 30}, {"name": "c", "age": 20}]}),
    ("filter_dictsort", "{{ d | dictsort }} {{ d | dictsort(reverse=true) }} {{ d | dictsort(by='value') }} {{ d | dictsort(true) }}", {"d": {"b": 1, "A": 3, "c": 2}}),
    ("filter_items", "{% for k, v in d | items %}{{ k }}={{ v }} {% endfor %}|{% for k, v in missing | items %}x{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("filter_map_select", "{{ users | map(attribute='name') | list }} {{ users | map(attribute='missing', default='?') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }}", {"users": [{"name": "x"}, {"name": "y"}]}),
    ("filter_selectattr", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('role', 'eq', 'user') | list | length }} {{ msgs | selectattr('flag') | list | length }} {{ msgs | selectattr('role', 'in', ['system', 'user']) | list | length }}", {"msgs": [{"role": "system", "content": "s"}, {"role": "user", "content": "u1", "flag": True}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "u2"}]}),
    ("filter_unique_min_max_sum", "{{ [1, 2, 1, 3] | unique | list }} {{ ['a', 'A', 'b'] | unique | list }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ ['b', 'A'] | min }} {{ [1, 2, 3] | sum }} {{ [1.5, 2] | sum }} {{ items | sum(attribute='n') }} {{ items | max(attribute='n') }}", {"items": [{"n": 1}, {"n": 5}, {"n": 2}]}),
    ("filter_numbers", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '0x1A' | int(base=16) }} {{ '2.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ -3 | abs }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(method='floor') }} {{ 7 | round }}", {}),
    ("filter_indent", "[{{ 'a\\nb\\n\\nc' | indent }}][{{ 'a\\nb' | indent(2, true) }}][{{ 'a\\n\\nb' | indent(width='> ', blank=true) }}][{{ 'x' | indent(first=true) }}]", {}),
    ("filter_truncate_wordcount_center", "[{{ 'hello world foo bar baz' | truncate(14) }}][{{ 'hello world foo bar baz' | truncate(14, true) }}][{{ 'short' | truncate(10) }}][{{ 'hello world, it\\'s me' | wordcount }}][{{ 'ab' | center(7) }}]", {}),
    ("filter_escape_safe", "{{ '<a href=\"x\">&\\'</a>' | e }} {{ '<b>' | escape }} {{ '<i>' | safe }}", {}),
    ("filter_batch_attr", "{% set ns = namespace(v='attr-ok') %}{{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3] | batch(2, 0) | list }} {{ ns | attr('v') }}", {}),
    ("filter_tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ d | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}|{{ d | tojson(ensure_ascii=true) }}|{{ 'x' | tojson }}|{{ none | tojson }}|{{ [] | tojson(indent=4) }}|{{ {} | tojson(indent=4) }}|{{ (1, 2) | tojson }}", {"d": {"zeta": [1, 2.5, True, None, "é中😀"], "alpha": {"nested": "q\"uote\\ \n\t\u0001 </script>"}, "num": 1e16, "neg": -0.5}}),
    ("filter_tojson_indent_variants", "{{ d | tojson(indent=0) }}|{{ d | tojson(indent='\\t') }}|{{ d | tojson(indent=1, separators=(', ', ' = ')) }}", {"d": {"a": [1, {"b": []}], "c": {}}}),
    ("filter_tojson_dict_literal_keys", "{{ {1: 'int', 2.5: 'float', true: 'bool', none: 'none', 's': 'str'} | tojson }}", {}),
    # tests
    ("tests_types", "{% for v in [none, true, 1, 1.5, 'a', [1], {'a': 1}, (1,)] %}{{ v is none }}{{ v is boolean }}{{ v is integer }}{{ v is float }}{{ v is number }}{{ v is string }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}{{ v is callable }}|{% endfor %}", {}),
    ("tests_defined", "{{ missing is defined }} {{ missing is undefined }} {{ x is defined }} {{ d.k is defined }} {{ d.nope is defined }} {{ missing is iterable }} {{ missing is sequence }} {{ missing is none }} {{ missing is string }} {{ missing is mapping }}", {"x": None, "d": {"k": 0}}),
    ("tests_values", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 1 is sameas 1 }} {{ none is sameas none }} {{ true is true }} {{ 0 is false }} {{ 'up' is in ['up', 'down'] }} {{ 2 is gt 1 }} {{ 2 is lessthan 1 }} {{ 2 is ge 2 }} {{ 'a' is eq 'a' }} {{ 'a' is ne 'a' }} {{ 1 is not none }} {{ 'upper' is filter }} {{ 'odd' is test }}", {}),
    ("tests_callable_globals", "{{ raise_exception is callable }} {{ strftime_now is defined }} {{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(3, 0, -1) | list }} {{ dict(a=1, b=2) }} {{ namespace(a=1).a }}", {}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%A %B %-d %j %I%p %y %%') }}", {}),
    ("special_tokens_and_extra", "{{ bos_token }}|{{ eos_token }}|{{ custom_var }}|{{ add_generation_prompt }}|{{ tools }}|{{ documents }}|{{ messages }}", {"bos_token": "<s>", "eos_token": "</s>", "custom_var": {"k": [1, 2]}}),
    ("messages_dict_printing", "{{ msg }}|{{ msg.content }}|{{ msg['tool_calls'][0]['function']['arguments'] }}", {"msg": {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.0, "x"]}}}]}}),
    # errors
    ("error_raise_exception", "{% if true %}{{ raise_exception('Custom failure: roles must alternate') }}{% endif %}", {}),
    ("error_undefined_attribute", "{{ missing.attr }}", {}),
    ("error_attribute_of_missing_key", "{{ d.nope.deeper }}", {"d": {"a": 1}}),
    ("error_concat_type", "{{ 'a' + 1 }}", {}),
    ("error_concat_none", "{{ 'content: ' + x }}", {"x": None}),
    ("error_add_int_str", "{{ 1 + 'a' }}", {}),
    ("error_compare", "{{ 'a' < 1 }}", {}),
    ("error_unknown_filter", "{{ x | nosuchfilter }}", {}),
    ("error_unknown_filter_in_if_runtime", "{% if true %}{{ x | nosuchfilter }}{% endif %}", {}),
    ("unknown_filter_in_untaken_if", "{% if false %}{{ x | nosuchfilter }}{% endif %}ok", {}),
    ("error_unknown_test", "{{ x is nosuchtest }}", {}),
    ("error_list_append_unsafe", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("error_macro_too_many_args", "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", {}),
    ("error_not_callable", "{{ x() }}", {"x": "str"}),
    ("error_division_by_zero", "{{ 1 / 0 }}", {}),
    ("error_tojson_undefined", "{{ missing | tojson }}", {}),
    ("error_index_missing_element", "{{ l[5].x }}", {"l": [1]}),
    ("error_syntax_unclosed_block", "{% if true %}never closed", {}),
    ("error_syntax_unknown_tag", "{% frobnicate %}", {}),
    ("error_syntax_unknown_tag_in_for", "{% for x in y %}{% frobnicate %}{% endfor %}", {}),
    ("error_syntax_nesting", "{% for x in y %}{% if x %}{% endfor %}", {}),
    ("error_syntax_endif_without_if", "{% endif %}", {}),
    ("error_syntax_bad_expression", "{{ 1 + }}", {}),
    ("error_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
]


# Python ints have arbitrary precision; the Go interpreter must not wrap at 64
# bits (issue 16 item 3). Same shape as FEATURES, written to integers.json.
INTEGERS = [
    ("int64_max_plus_one", "{{ 9223372036854775807 + 1 }}", {}),
    ("two_pow_64", "{{ 2**64 }}", {}),
    ("big_literal", "{{ 99999999999999999999 }} {{ -99999999999999999999 }} {{ 0x1FFFFFFFFFFFFFFFF }} {{ 1_000_000_000_000_000_000_000 }}", {}),
    ("int64_min_minus_one", "{{ -9223372036854775808 - 1 }} {{ -(-9223372036854775807 - 1) }}", {}),
    ("mul_overflow", "{{ 9223372036854775807 * 9223372036854775807 }} {{ 4294967296 * 4294967296 }} {{ -4294967296 * 2147483648 }} {{ 3037000500 * 3037000500 }}", {}),
    ("floor_div_mod", "{{ (2**64) // 3 }} {{ (2**64) % 7 }} {{ -(2**64) // 7 }} {{ -(2**64) % 7 }} {{ (2**64) // -7 }} {{ (2**64) % -7 }} {{ (-9223372036854775807 - 1) // -1 }} {{ (-9223372036854775807 - 1) % -1 }}", {}),
    ("true_div", "{{ (2**64) / 2 }} {{ (2**64 + 1) / 3 }} {{ 9007199254740993 / 1 }} {{ 10**30 / 10**10 }} {{ 1 / 2**64 }}", {}),
    ("mixed_float", "{{ 2**64 + 0.5 }} {{ 2**64 == 18446744073709551616.0 }} {{ 2**64 > 1.5e19 }} {{ 2**64 < 1e300 }} {{ 2**53 + 1 == 9007199254740992.0 }} {{ 1e300 * 10**300 }} {{ 2**64 * 1.0 }}", {}),
    ("compare_and_sort", "{{ [3, 2**70, 1, -(2**65)] | sort }} {{ [1, 2**64] | sum }} {{ [1, 2**64] | max }} {{ [1, -(2**64)] | min }} {{ 2**64 in [18446744073709551616] }} {{ 2**64 > 2**63 }} {{ 2**64 != 2**64 + 1 }}", {}),
    ("dict_keys_and_json", "{{ [2**64, -(2**64)] | tojson }} {{ {2**64: 1} }} {{ {2**64: 'a'}[18446744073709551616.0] }} {{ {2**64: 1} | tojson }}", {}),
    ("filters", "{{ (-(2**64)) | abs }} {{ '18446744073709551616' | int }} {{ (2**200) | float }} {{ (2**64) | string | length }} {{ (2**64) | round }} {{ (2**64 + 5) | round(-1) }} {{ 1e20 | int }} {{ (2**64) | int }}", {}),
    ("tests", "{{ (2**64) is integer }} {{ (2**64) is number }} {{ (2**64 + 1) is odd }} {{ (2**64) is even }} {{ (2**64) is divisibleby 3 }} {{ (2**64) is float }}", {}),
    ("percent_format", "{{ '%d' % 2**64 }} {{ '%x' % 2**64 }} {{ '%+d' % 2**64 }} {{ '%.1f' % 2**64 }}", {}),
    ("pow", "{{ 3**40 }} {{ (-3)**41 }} {{ 2**-2 }} {{ (-1)**(2**70) }} {{ 1**(2**70) }} {{ 0**(2**70) }} {{ (2**64)**0 }}", {}),
    ("loop_counter", "{% set ns = namespace(x=1) %}{% for i in range(70) %}{% set ns.x = ns.x * 2 %}{% endfor %}{{ ns.x }}", {}),
    ("int64_edges", "{{ 9223372036854775807 + 0 }} {{ -9223372036854775807 - 1 }} {{ -9223372036854775808 }} {{ (-9223372036854775807 - 1) * -1 }} {{ (-9223372036854775807 - 1) * 1 }} {{ -(2**63) == -9223372036854775808 }} {{ 2**63 - 1 }} {{ (2**64) - (2**64) + 5 }} {{ 2**62 + 2**62 }} {{ 2**64 | abs is integer }}", {}),
    ("json_variables", "{{ big }} {{ big + 1 }} {{ big | tojson }} {{ neg * 2 }} {{ [big, neg] | max }}", {"big": 123456789012345678901234567890, "neg": -9223372036854775809}),
    ("float_to_int", "{{ 1e300 | int }} {{ -1.5e19 | int }} {{ '%d' % 1e20 }} {{ '%d' % -2.5e19 }} {{ 1e19 | int == 10**19 }} {{ {1e19: 'f'}[10**19] }}", {}),
    ("str_format_and_slices", "{{ '{}'.format(2**64) }} {{ '{:d}'.format(2**64) }} {{ '{:>25}'.format(2**64) }} {{ '{:x}'.format(2**64) }} {{ '{:.2f}'.format(2**64) }} {{ '{:+}'.format(2**64) }} {{ (2**64) | center(30) }} [{{ 'ab'[2**64:] }}] {{ [1, 2, 3][:2**64] }} {{ [1, 2, 3][-(2**64):] }} {{ [1, 2, 3][::2**64] }} {{ [1, 2, 3][::-(2**64)] }}", {}),
    ("error_int_too_large_for_float", "{{ 10**400 * 1.0 }}", {}),
    ("error_repeat_by_big_int", "{{ 'x' * 2**64 }}", {}),
    ("error_str_digits_limit", "{{ 10**5000 }}", {}),
    ("index_by_big_int_is_undefined", "[{{ [1][2**64] }}]", {}),
]


def make_integers():
    out = []
    for name, template, variables in INTEGERS:
        def run():
            return compile_template(template).render(messages=[], tools=None, documents=None, add_generation_prompt=False, **variables)

        case = {"name": name, "template": template, "vars": variables}
        case.update(render_case(run))
        out.append(case)
    return {"generator": "reference/chattemplate/render_goldens.py", "jinja2_version": jinja2.__version__, "now": FIXED_NOW.isoformat(), "cases": out}


def make_features():
    out = []
    for name, template, variables in FEATURES:
        def run():
            return compile_template(template).render(messages=[], tools=None, documents=None, add_generation_prompt=False, **variables)

        case = {"name": name, "template": template, "vars": variables}
        case.update(render_case(run))
        out.append(case)
    return {"generator": "reference/chattemplate/render_goldens.py", "jinja2_version": jinja2.__version__, "now": FIXED_NOW.isoformat(), "cases": out}


def write(name, data):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n = len(data["cases"])
    errs = sum(1 for c in data["cases"] if "error" in c)
    print(f"wrote {os.path.relpath(path, ROOT)}: {n} cases ({errs} expected errors)", file=sys.stderr)


if __name__ == "__main__":
    write("goldens.json", make_goldens())
    write("features.json", make_features())
    write("integers.json", make_integers())
