#!/usr/bin/env python3
"""Independent reference for preftune's drop-in tokenization (data: TRL and
LLaMA-Factory rules). Writes testdata/conformance/golden/tokens.json.

What is re-implemented here, from the public sources (not from preftune's Go code):

* LLaMA-Factory (hiyouga/LLaMA-Factory @ ff6d4d12, src/llamafactory/data/):
  - converter.py SharegptDatasetConverter for dpo_en_demo (human -> user, gpt ->
    assistant; the chosen/rejected objects are the two responses);
  - template.py Template._encode / encode_oneturn / _convert_elements_to_ids,
    Llama2Template._encode, ReasoningTemplate.encode_oneturn (enable_thinking true),
    fix_special_tokens' replace_eos, the slots of the templates listed in TEMPLATES;
  - processor/pairwise.py PairwiseDatasetProcessor._encode_data_example and
    processor_utils.py infer_seqlen: prompt_ids[:source_len], responses[:target_len].
* current TRL (huggingface/trl @ f2cd5771, trl/trainer/dpo_trainer.py):
  - DPOTrainer._prepare_dataset tokenize_fn: conversational rows ->
    prompt_ids = tokenize(apply_chat_template(prompt, add_generation_prompt=True)),
    chosen_ids = tokenize(apply_chat_template(prompt + chosen))[len(prompt_ids):];
    plain rows: EOS text appended to chosen/rejected unless present, tokenized with the
    tokenizer's special tokens (processing_class(text=...));
  - the keep_start filter (len(prompt_ids) < max_length) and
    DataCollatorForPreference's per-sequence truncation (prompt+completion)[:max_length].

The chat templates are rendered with the real Jinja2 library, set up as transformers
does (reference/chattemplate/render_goldens.py). Strings are turned into ids by
tokenizers.js (@huggingface/tokenizers 0.2.0; reference/conformance/encode.mjs), the
same independent tokenizer as reference/tokenizer; this script only decides which
strings are encoded, with which special-token flag, and how the ids are cut and joined.

Each golden row holds sha256(json([prompt, chosen, rejected])) (compact separators)
and the three lengths; every 25th row holds the ids in full.

Run from the repository root (python3 with jinja2; node; `npm ci` in reference/tokenizer):
    python3 reference/conformance/tokens_ref.py
"""

import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "reference", "chattemplate"))
import render_goldens as rg  # noqa: E402  transformers' Jinja environment

OUT = os.path.join(ROOT, "testdata", "conformance", "golden", "tokens.json")
TOKDIR = os.path.join(ROOT, "testdata", "tokenizers")
PREF = os.path.join(ROOT, "testdata", "preferences")

# ---------------------------------------------------------------------------
# LLaMA-Factory templates: slots are str, {"bos"}, {"eos"} (template.py notation
# {"bos_token"}/{"eos_token"}).
# ---------------------------------------------------------------------------
BOS, EOS = ("bos",), ("eos",)
CHATML_USER = ["<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"]
CHATML_ASST = ["{{content}}<|im_end|>\n"]
CHATML_SYS = ["<|im_start|>system\n{{content}}<|im_end|>\n"]
QWEN_OBS = ["<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"]


def template(user=None, assistant=None, system=None, prefix=(), default_system="", stop_words=(),
             replace_eos=False, efficient_eos=False, llama2=False, reasoning=False, observation=None, tool_format="default"):
    user = user or ["{{content}}"]
    asst = assistant or (["{{content}}"] if efficient_eos else ["{{content}}", EOS])
    return {"observation": observation or user, "function": asst, "tool_format": tool_format,
            "user": user, "assistant": asst,
            "system": system or ["{{content}}"], "prefix": list(prefix), "default_system": default_system,
            "stop_words": list(stop_words), "replace_eos": replace_eos, "efficient_eos": efficient_eos,
            "llama2": llama2, "reasoning": reasoning}


TEMPLATES = {
    "default": template(user=["Human: {{content}}", EOS, "\nAssistant:"], assistant=["{{content}}", EOS, "\n"],
                        system=["System: {{content}}", EOS, "\n"]),
    "empty": template(assistant=["{{content}}"]),
    "chatml": template(CHATML_USER, CHATML_ASST, CHATML_SYS, stop_words=["<|im_end|>", "<|im_start|>"], replace_eos=True,
                       observation=["<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n"]),
    "qwen": template(CHATML_USER, CHATML_ASST, CHATML_SYS, stop_words=["<|im_end|>"], replace_eos=True, observation=QWEN_OBS,
                     tool_format="qwen", default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
    "qwen3": template(CHATML_USER, CHATML_ASST, CHATML_SYS, stop_words=["<|im_end|>"], replace_eos=True, reasoning=True),
    "qwen3_nothink": template(CHATML_USER, CHATML_ASST, CHATML_SYS, stop_words=["<|im_end|>"], replace_eos=True),
    "llama3": template(["<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|>"
                        "<|start_header_id|>assistant<|end_header_id|>\n\n"],
                       ["{{content}}<|eot_id|>"], ["<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>"],
                       prefix=[BOS], stop_words=["<|eot_id|>", "<|eom_id|>"], replace_eos=True),
    "llama2": template([BOS, "[INST] {{content}} [/INST]"], system=["<<SYS>>\n{{content}}\n<</SYS>>\n\n"], llama2=True),
    "mistral": template(["[INST] {{content}}[/INST]"], [" {{content}}", EOS], ["{{content}}\n\n"], prefix=[BOS], llama2=True),
}
THOUGHT = "<think>\n" + "\n</think>\n\n"

# tool_utils.py (DefaultToolUtils, QwenToolUtils) and formatter.py (ToolFormatter,
# FunctionFormatter without thought/tool-call words, which the test data does not use)
DEFAULT_TOOL_PROMPT = (
    "You have access to the following tools:\n{tool_text}"
    "Use the following format if using a tool:\n"
    "```\n"
    "Action: tool name (one of [{tool_names}])\n"
    "Action Input: the input to the tool, in a JSON format representing the kwargs "
    """(e.g. ```{{"input": "hello world", "num_beams": 5}}```)\n"""
    "```\n"
)
QWEN_TOOL_PROMPT = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>{tool_text}"
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    """<tool_call></tool_call> XML tags:\n<tool_call>\n{{"name": <function-name>, """
    """"arguments": <args-json-object>}}\n</tool_call>"""
)


def tool_text(fmt, tools_json):
    tools = json.loads(tools_json)
    if len(tools) == 0:
        return ""
    if fmt == "qwen":
        text = ""
        for tool in tools:
            wrapped = tool if tool.get("type") == "function" else {"type": "function", "function": tool}
            text += "\n" + json.dumps(wrapped, ensure_ascii=False)
        return QWEN_TOOL_PROMPT.format(tool_text=text)
    text, names = "", []
    for tool in tools:
        tool = tool.get("function", "") if tool.get("type") == "function" else tool
        param_text = ""
        for name, param in tool["parameters"]["properties"].items():
            required = ", required" if name in tool["parameters"].get("required", []) else ""
            enum = ", should be one of [{}]".format(", ".join(param["enum"])) if param.get("enum", None) else ""
            items = ", where each item should be {}".format(param["items"].get("type", "")) if param.get("items", None) else ""
            param_text += "  - {name} ({type}{required}): {desc}{enum}{items}\n".format(
                name=name, type=param.get("type", ""), required=required, desc=param.get("description", ""), enum=enum, items=items)
        text += "> Tool Name: {name}\nTool Description: {desc}\nTool Args:\n{args}\n".format(
            name=tool["name"], desc=tool.get("description", ""), args=param_text)
        names.append(tool["name"])
    return DEFAULT_TOOL_PROMPT.format(tool_text=text, tool_names=", ".join(names))


def function_text(fmt, content):
    calls = json.loads(content)
    if not isinstance(calls, list):
        calls = [calls]
    functions = [(tc["name"], json.dumps(tc["arguments"], ensure_ascii=False)) for tc in calls]
    if fmt == "qwen":
        texts = [json.dumps({"name": n, "arguments": json.loads(a)}, ensure_ascii=False) for n, a in functions]
        return "\n".join([f"<tool_call>\n{t}\n</tool_call>" for t in texts])
    return "\n".join([f"Action: {n}\nAction Input: {a}" for n, a in functions])


class Tok:
    """A tokenizer directory: special tokens from its config, ids from tokenizers.js
    (batched: `want` records strings, `run` encodes them all)."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(TOKDIR, name)
        self.chat_template, self.special = rg.load_model_dir(self.dir)
        self.requests, self.index, self.ids, self.added = [], {}, None, None

    def want(self, text, special):
        key = (text, special)
        if key not in self.index:
            self.index[key] = len(self.requests)
            self.requests.append([text, special])
        return key

    def run(self):
        p = subprocess.run(["node", os.path.join(ROOT, "reference", "conformance", "encode.mjs")],
                           input=json.dumps({"tokenizer": self.dir, "requests": self.requests}),
                           capture_output=True, text=True, check=True)
        out = json.loads(p.stdout)
        self.ids, self.added = out["ids"], out["special"]

    def enc(self, key):
        return list(self.ids[self.index[key]])

    def token_id(self, token):
        return self.added[token]


# A plan is a list of pieces: ("enc", key) or ("id", token-name or "bos"/"eos").
def lf_encode_oneturn(tok, tmpl, messages, system, tools=""):
    system = system or tmpl["default_system"]
    encoded = []
    for i, (role, content) in enumerate(messages):
        elements = []
        system_text = ""
        if i == 0:
            elements += tmpl["prefix"]
            if system or tools:
                ttext = tool_text(tmpl["tool_format"], tools) if tools else ""
                sys_slots = [s.replace("{{content}}", system + ttext, 1) if isinstance(s, str) else s for s in tmpl["system"]]
                if tmpl["llama2"]:
                    system_text = sys_slots[0]
                else:
                    elements += sys_slots
        slots = {"user": tmpl["user"], "assistant": tmpl["assistant"], "observation": tmpl["observation"],
                 "function": tmpl["function"]}[role]
        if role == "function":
            content = function_text(tmpl["tool_format"], content)
        if role == "user":
            content = system_text + content if tmpl["llama2"] else content
        for s in slots:
            if isinstance(s, str):
                s = s.replace("{{content}}", content, 1)
                if role == "user" and not tmpl["llama2"]:
                    s = s.replace("{{idx}}", str(i // 2), 1)
            elements.append(s)
        plan = []
        for e in elements:
            if isinstance(e, str):
                if e:
                    plan.append(("enc", tok.want(e, False)))
            else:
                plan.append(("id", e[0]))
        encoded.append(plan)
    prompt = [p for plan in encoded[:-1] for p in plan]
    response = encoded[-1]
    if tmpl["reasoning"] and "<think>" not in messages[-1][1] and "</think>" not in messages[-1][1]:
        response = [("enc", tok.want(THOUGHT, False))] + response  # enable_thinking: true
    if tmpl["efficient_eos"]:
        response = response + [("id", "eos")]
    return prompt, response


def parse_template(tok):
    """template.py parse_template: the template of a stage: config without template:,
    read off the model's Jinja chat template with placeholder conversations."""
    def find_diff(short_str, long_str):
        i, j, diff = 0, 0, ""
        while i < len(short_str) and j < len(long_str):
            if short_str[i] == long_str[j]:
                i, j = i + 1, j + 1
            else:
                diff += long_str[j]
                j += 1
        return diff

    p = subprocess.run(["node", os.path.join(ROOT, "reference", "conformance", "encode.mjs")],
                       input=json.dumps({"tokenizer": tok.dir, "requests": []}), capture_output=True, text=True, check=True)
    prefix = json.loads(p.stdout)["empty"]
    act = lambda msgs, gen: rg.apply_chat_template(tok.chat_template, tok.special, msgs, add_generation_prompt=gen)
    system_slot = act([{"role": "system", "content": "{{content}}"}], False)[len(prefix):]
    user_slot_empty_system = act([{"role": "system", "content": ""}, {"role": "user", "content": "{{content}}"}], True)[len(prefix):]
    user_slot = act([{"role": "user", "content": "{{content}}"}], True)[len(prefix):]
    assistant_slot = act([{"role": "user", "content": "{{content}}"}, {"role": "assistant", "content": "{{content}}"}], False)
    assistant_slot = assistant_slot[len(prefix) + len(user_slot):]
    reasoning = "<think>" in assistant_slot
    assistant_slot = assistant_slot.replace("<think>", "").replace("</think>", "").lstrip("\n")
    if len(user_slot) > len(user_slot_empty_system):
        default_system = find_diff(user_slot_empty_system, user_slot)
        sole_system = system_slot.replace("{{content}}", default_system, 1)
        user_slot = user_slot[len(sole_system):]
    else:
        default_system = ""
    return template([user_slot], [assistant_slot], [system_slot], prefix=[prefix] if prefix else [],
                    default_system=default_system, reasoning=reasoning)


def resolve(tok, tmpl, plan):
    out = []
    for kind, v in plan:
        if kind == "enc":
            out += tok.enc(v)
        elif v == "bos":
            if "bos_token" in tok.special:
                out.append(tok.token_id(tok.special["bos_token"]))
        elif v == "eos":
            name = tmpl["stop_words"][0] if tmpl["replace_eos"] else tok.special.get("eos_token", "<|endoftext|>")
            out.append(tok.token_id(name))
    return out


def infer_seqlen(source_len, target_len, cutoff_len):
    if target_len * 2 < cutoff_len:
        max_target_len = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target_len = cutoff_len - source_len
    else:
        max_target_len = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target_len = min(max_target_len, target_len)
    max_source_len = max(cutoff_len - new_target_len, 0)
    new_source_len = min(max_source_len, source_len)
    return new_source_len, new_target_len


def sharegpt_rows(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    role = {"human": "user", "gpt": "assistant"}
    for i, r in enumerate(data, 1):
        msgs, system = r["conversations"], r.get("system", "")
        if msgs and msgs[0]["from"] == "system":  # SharegptDatasetConverter: a leading system turn
            system, msgs = msgs[0]["value"], msgs[1:]
        prompt = [(role[m["from"]], m["value"]) for m in msgs]
        rows.append({"row": i, "system": system, "prompt": prompt,
                     "chosen": ("assistant", r["chosen"]["value"]), "rejected": ("assistant", r["rejected"]["value"])})
    return rows


def plain_rows(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            r = json.loads(line)
            rows.append({"row": i, "prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]})
    return rows


def case_lf(tok, rows, tname, cutoffs):
    tmpl = TEMPLATES[tname] if tname else parse_template(tok)
    plans = []
    for r in rows:
        p, c = lf_encode_oneturn(tok, tmpl, r["prompt"] + [r["chosen"]], r["system"])
        _, j = lf_encode_oneturn(tok, tmpl, r["prompt"] + [r["rejected"]], r["system"])
        plans.append((r["row"], p, c, j))

    def finish():
        cases = []
        if tmpl["replace_eos"] and tmpl["stop_words"][0] not in tok.added:
            # fix_special_tokens adds the stop word as a new token (resize_vocab): preftune
            # refuses instead, naming the template.
            return [{"name": f"lf/{tname}/{tok.name}/cutoff{c}", "rules": "llamafactory", "template": tname,
                     "tokenizer": tok.name, "dataset": "dpo_en_demo", "max_length": c, "rows": [],
                     "refused": f"adds {tmpl['stop_words'][0]} to the vocabulary"} for c in cutoffs]
        for cutoff in cutoffs:
            out = []
            for row, p, c, j in plans:
                p, c, j = resolve(tok, tmpl, p), resolve(tok, tmpl, c), resolve(tok, tmpl, j)
                src, tgt = infer_seqlen(len(p), max(len(c), len(j)), cutoff)
                out.append((row, p[:src], c[:tgt], j[:tgt]))
            cases.append({"name": f"lf/{tname or '(parsed)'}/{tok.name}/cutoff{cutoff}", "rules": "llamafactory", "template": tname,
                          "tokenizer": tok.name, "dataset": "dpo_en_demo", "max_length": cutoff, "rows": out})
        return cases
    return finish


def case_lf_tools(tok, path, tname):
    """A ranking sharegpt dataset with tools, function_call and observation turns."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    role = {"human": "user", "gpt": "assistant", "function_call": "function", "observation": "observation"}
    tmpl = TEMPLATES[tname]
    plans = []
    for i, r in enumerate(data, 1):
        prompt = [(role[m["from"]], m["value"]) for m in r["conversations"]]
        c, j = (role[r["chosen"]["from"]], r["chosen"]["value"]), (role[r["rejected"]["from"]], r["rejected"]["value"])
        p, cids = lf_encode_oneturn(tok, tmpl, prompt + [c], "", r.get("tools", ""))
        _, jids = lf_encode_oneturn(tok, tmpl, prompt + [j], "", r.get("tools", ""))
        plans.append((i, p, cids, jids))

    def finish():
        out = [(row, resolve(tok, tmpl, p), resolve(tok, tmpl, c), resolve(tok, tmpl, j)) for row, p, c, j in plans]
        return [{"name": f"lf-tools/{tname}/{tok.name}", "rules": "llamafactory", "template": tname, "tokenizer": tok.name,
                 "dataset": "lf_tools_dpo", "max_length": 0, "rows": out}]
    return finish


def kto_rows(path):
    """kto_en_demo through SharegptDatasetConverter with a kto_tag: the last message is
    the response (desirable or undesirable by its label), the rest the prompt."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [{"row": i, "system": "", "prompt": [(m["role"], m["content"]) for m in r["messages"][:-1]],
             "response": ("assistant", r["messages"][-1]["content"])} for i, r in enumerate(data, 1)]


def case_lf_kto(tok, rows, tname, cutoffs):
    """FeedbackDatasetProcessor._encode_data_example: encode_oneturn(prompt + [response]),
    then infer_seqlen(len(prompt_ids), len(response_ids), cutoff_len). (The KL rows pair
    each prompt with another row's response; the trainer builds those from these ids.)"""
    tmpl = TEMPLATES[tname]
    plans = [(r["row"],) + lf_encode_oneturn(tok, tmpl, r["prompt"] + [r["response"]], r["system"]) for r in rows]

    def finish():
        cases = []
        for cutoff in cutoffs:
            out = []
            for row, p, c in plans:
                p, c = resolve(tok, tmpl, p), resolve(tok, tmpl, c)
                src, tgt = infer_seqlen(len(p), len(c), cutoff)
                out.append((row, p[:src], c[:tgt], []))
            cases.append({"name": f"lf-kto/{tname}/{tok.name}/cutoff{cutoff}", "rules": "llamafactory", "template": tname,
                          "tokenizer": tok.name, "dataset": "kto_en_demo", "max_length": cutoff, "rows": out})
        return cases
    return finish


def chat_msgs(row, resp=None):
    msgs = [{"role": "system", "content": row["system"]}] if row["system"] else []
    msgs += [{"role": r, "content": c} for r, c in row["prompt"]]
    if resp:
        msgs.append({"role": resp[0], "content": resp[1]})
    return msgs


def case_trl_chat(tok, rows, max_lengths):
    plans = []
    for r in rows:
        pt = rg.apply_chat_template(tok.chat_template, tok.special, chat_msgs(r), add_generation_prompt=True)
        ct = rg.apply_chat_template(tok.chat_template, tok.special, chat_msgs(r, r["chosen"]))
        jt = rg.apply_chat_template(tok.chat_template, tok.special, chat_msgs(r, r["rejected"]))
        # apply_chat_template(tokenize=True) encodes the rendering without special tokens
        plans.append((r["row"], tok.want(pt, False), tok.want(ct, False), tok.want(jt, False)))
    return lambda: trl_finish(tok, plans, max_lengths, "trl-chat", "dpo_en_demo")


def case_trl_tools(tok, path, max_lengths):
    """TRL's tool calling format (docs/source/dataset_formats.md): messages with
    tool_calls/tool roles, and a tools column (a list, or its json.dumps string, which
    tokenize_fn json.loads) passed as apply_chat_template(tools=...)."""
    plans = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            r = json.loads(line)
            tools = r.get("tools")
            tools = json.loads(tools) if isinstance(tools, str) else tools
            render = lambda msgs, gen=False: rg.apply_chat_template(tok.chat_template, tok.special, msgs, tools=tools, add_generation_prompt=gen)
            plans.append((i, tok.want(render(r["prompt"], True), False), tok.want(render(r["prompt"] + r["chosen"]), False),
                          tok.want(render(r["prompt"] + r["rejected"]), False)))
    return lambda: trl_finish(tok, plans, max_lengths, "trl-tools", "trl_tools_dpo")


def case_trl_plain(tok, rows, max_lengths):
    eos = tok.special["eos_token"]
    plans = []
    for r in rows:
        c = r["chosen"] if r["chosen"].endswith(eos) else r["chosen"] + eos
        j = r["rejected"] if r["rejected"].endswith(eos) else r["rejected"] + eos
        plans.append((r["row"], tok.want(r["prompt"], True), tok.want(r["prompt"] + c, True), tok.want(r["prompt"] + j, True)))
    return lambda: trl_finish(tok, plans, max_lengths, "trl-plain", "ultrafeedback_binarized_200")


def trl_finish(tok, plans, max_lengths, kind, dataset):
    cases = []
    for ml in max_lengths:
        out = []
        for row, pk, ck, jk in plans:
            p, pc, pj = tok.enc(pk), tok.enc(ck), tok.enc(jk)
            c, j = pc[len(p):], pj[len(p):]
            if ml:
                if len(p) >= ml:  # the keep_start filter
                    out.append((row, None, None, None))
                    continue
                c, j = c[: ml - len(p)], j[: ml - len(p)]  # (prompt+completion)[:max_length]
            out.append((row, p, c, j))
        cases.append({"name": f"{kind}/{tok.name}/max_length{ml or 'none'}", "rules": "trl", "tokenizer": tok.name,
                      "dataset": dataset, "max_length": ml, "rows": out})
    return cases


def digest(p, c, j):
    return hashlib.sha256(json.dumps([p, c, j], separators=(",", ":")).encode()).hexdigest()


def main():
    demo = sharegpt_rows(os.path.join(PREF, "llamafactory", "dpo_en_demo.json"))
    kto = kto_rows(os.path.join(PREF, "llamafactory", "kto_en_demo.json"))
    uf = plain_rows(os.path.join(PREF, "ultrafeedback_binarized_200.jsonl"))
    pending = []
    toks = {n: Tok(n) for n in ("qwen2.5", "llama3")}
    native = {"qwen2.5": "qwen", "llama3": "llama3"}
    for name, tok in toks.items():
        pending.append((tok, case_lf(tok, demo, native[name], [1024, 2048])))
        kto_tmpl = {"qwen2.5": "qwen3_nothink", "llama3": "llama3"}[name]  # the LLaMA-Factory KTO examples' templates
        pending.append((tok, case_lf_kto(tok, kto, kto_tmpl, [1024, 2048])))
        pending.append((tok, case_lf(tok, demo, "", [2048])))  # no template: parse_template
        for t in sorted(TEMPLATES):
            if t != native[name]:
                pending.append((tok, case_lf(tok, demo, t, [2048])))
        pending.append((tok, case_trl_chat(tok, demo, [1024, 0])))
        pending.append((tok, case_trl_plain(tok, uf, [1024, 0])))
        if name == "qwen2.5":
            for t in ("qwen", "default", "chatml"):
                pending.append((tok, case_lf_tools(tok, os.path.join(ROOT, "testdata", "conformance", "data", "lf", "lf_tools_dpo.json"), t)))
        if name == "qwen2.5":  # the Llama-3 template here has no tool support
            pending.append((tok, case_trl_tools(tok, os.path.join(ROOT, "testdata", "conformance", "data", "trl_tools_dpo.jsonl"), [0])))
    # SentencePiece tokenizers with their own LLaMA-Factory templates (EOS enters as an id
    # slot, never as text, so tokenizers.js's handling of "</s>" inside text plays no part).
    for name, tname in (("llama2", "llama2"), ("mistral", "mistral")):
        toks[name] = Tok(name)
        pending.append((toks[name], case_lf(toks[name], demo, tname, [2048])))
    for tok in toks.values():
        tok.run()
    cases = []
    for _, finish in pending:
        cases += finish()
    for c in cases:
        rows = []
        for k, (row, p, ch, rj) in enumerate(c["rows"]):
            if p is None:
                rows.append({"row": row, "dropped": True})
                continue
            e = {"row": row, "sha256": digest(p, ch, rj), "len": [len(p), len(ch), len(rj)]}
            if k % 25 == 0:
                e["ids"] = [p, ch, rj]
            rows.append(e)
        c["rows"] = rows
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"generator": "reference/conformance/tokens_ref.py", "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{OUT}: {len(cases)} cases, {sum(len(c['rows']) for c in cases)} rows")


if __name__ == "__main__":
    main()
