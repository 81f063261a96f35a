#!/usr/bin/env python3
"""Independent reading of the real preference files in testdata/preferences.

Writes data/testdata/golden/<name>.json: for every row, its status (ok, invalid,
dropped) and a SHA-256 of its converted (prompt, chosen, rejected) or (prompt,
completion, label); for every 20th row, the converted content in full. The Go tests
in package data compare their own conversion with it.

The rules are re-implemented here from the sources, not from the Go code:
  * TRL trl/data_utils.py extract_prompt (copied semantics: first differing index,
    a space before it goes to the completions), plus the hh-rlhf rule: the prompt is
    cut back to the end of the last "\n\nAssistant:" inside it.
  * LLaMA-Factory src/llamafactory/data/parser.py (DatasetAttr.join: when "columns"
    or "tags" is given, every entry it leaves out is None), converter.py
    (SharegptDatasetConverter / AlpacaDatasetConverter) and processor/pairwise.py,
    feedback.py (rows whose prompt has an even number of messages, or fewer than two
    responses, are dropped).
  * Roles are then named as preftune names them: user, assistant, system, tool
    (function_call -> assistant), and a system prompt becomes the first prompt message.

Standard library only. Run from the repository root:  python3 reference/data/expected.py
"""
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREF = os.path.join(ROOT, "testdata", "preferences")
OUT = os.path.join(ROOT, "data", "testdata", "golden")
SAMPLE_EVERY = 20


# ---------------------------------------------------------------- canonical digest
def seg_bytes(seg):
    """A segment is a str (plain text) or a list of (role, content) pairs."""
    if isinstance(seg, str):
        return b"T" + seg.encode("utf-8")
    out = b"M"
    for role, content in seg:
        out += role.encode("utf-8") + b"\x1f" + content.encode("utf-8") + b"\x1e"
    return out


def digest(kind, segs, label=None):
    h = hashlib.sha256()
    h.update(kind.encode())
    for s in segs:
        h.update(b"\x1d" + seg_bytes(s))
    if label is not None:
        h.update(b"\x1dL" + (b"1" if label else b"0"))
    return h.hexdigest()


def as_json_seg(seg):
    if isinstance(seg, str):
        return {"text": seg}
    return {"messages": [{"role": r, "content": c} for r, c in seg]}


def is_empty(seg):
    if isinstance(seg, str):
        return seg.strip() == ""
    return all(c.strip() == "" for _, c in seg)


# ---------------------------------------------------------------- TRL
def trl_extract_prompt(chosen, rejected):
    # trl.data_utils.extract_prompt, verbatim semantics.
    for idx in range(min(len(chosen), len(rejected))):
        if chosen[idx] != rejected[idx]:
            if chosen[idx - 1] == " ":
                idx -= 1
            break
    return chosen[:idx], chosen[idx:], rejected[idx:]


def hh_row(r):
    prompt, chosen, rejected = trl_extract_prompt(r["chosen"], r["rejected"])
    marker = "\n\nAssistant:"
    k = prompt.rfind(marker)
    if k >= 0:
        prompt = prompt[: k + len(marker)]
    chosen = r["chosen"][len(prompt):]
    rejected = r["rejected"][len(prompt):]
    return "pair", [prompt, chosen, rejected], None


def trl_standard_row(r):
    return "pair", [r["prompt"], r["chosen"], r["rejected"]], None


# ---------------------------------------------------------------- LLaMA-Factory
def lf_attr(info, name):
    e = info[name]
    a = dict(formatting="alpaca", ranking=False, prompt="instruction", query="input", response="output",
             history=None, messages="conversations", system=None, tools=None, chosen=None, rejected=None,
             kto_tag=None, role_tag="from", content_tag="value", user_tag="human", assistant_tag="gpt",
             observation_tag="observation", function_tag="function_call", system_tag="system")
    a["formatting"] = e.get("formatting", "alpaca")
    a["ranking"] = e.get("ranking", False)
    if "columns" in e:
        for c in ["prompt", "query", "response", "history", "messages", "system", "tools", "chosen", "rejected", "kto_tag"]:
            a[c] = e["columns"].get(c)
    if "tags" in e:
        for t in ["role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag"]:
            a[t] = e["tags"].get(t)
    return a


PREFTUNE_ROLE = {"user": "user", "assistant": "assistant", "observation": "tool", "function": "assistant", "system": "system"}


def lf_sharegpt(a, example):
    """SharegptDatasetConverter, returning LLaMA-Factory's _prompt/_response/_system."""
    tag_mapping = {a["user_tag"]: "user", a["assistant_tag"]: "assistant", a["observation_tag"]: "observation",
                   a["function_tag"]: "function", a["system_tag"]: "system"}
    odd_tags = (a["user_tag"], a["observation_tag"])
    even_tags = (a["assistant_tag"], a["function_tag"])
    accept_tags = (odd_tags, even_tags)
    messages = example[a["messages"]]
    if a["system_tag"] and len(messages) != 0 and messages[0][a["role_tag"]] == a["system_tag"]:
        system = messages[0][a["content_tag"]]
        messages = messages[1:]
    else:
        system = example[a["system"]] if a["system"] else ""
    aligned, broken = [], False
    for turn_idx, message in enumerate(messages):
        if message[a["role_tag"]] not in accept_tags[turn_idx % 2]:
            broken = True
            break
        aligned.append({"role": tag_mapping[message[a["role_tag"]]], "content": message[a["content_tag"]]})
    if (not a["ranking"] and len(aligned) % 2 != 0) or (a["ranking"] and len(aligned) % 2 == 0):
        broken = True
    if broken:
        prompt, response = [], []
    elif a["kto_tag"] and isinstance(example[a["kto_tag"]], bool):
        prompt = aligned[:-1]
        response = aligned[-1:]
        if example[a["kto_tag"]]:
            response = response + [{"role": "assistant", "content": ""}]
        else:
            response = [{"role": "assistant", "content": ""}] + response
    elif a["ranking"] and isinstance(example[a["chosen"]], dict) and isinstance(example[a["rejected"]], dict):
        chosen, rejected = example[a["chosen"]], example[a["rejected"]]
        prompt = aligned
        response = [{"role": tag_mapping[chosen[a["role_tag"]]], "content": chosen[a["content_tag"]]},
                    {"role": tag_mapping[rejected[a["role_tag"]]], "content": rejected[a["content_tag"]]}]
    else:
        prompt, response = aligned[:-1], aligned[-1:]
    return prompt, response, system


def lf_row(a, example):
    prompt, response, system = lf_sharegpt(a, example)
    # processor/pairwise.py and feedback.py: "Dropped invalid example"
    if len(prompt) % 2 != 1 or len(response) < 2:
        return None
    p = ([("system", system)] if system else []) + [(PREFTUNE_ROLE[m["role"]], m["content"]) for m in prompt]
    if a["kto_tag"] and isinstance(example[a["kto_tag"]], bool):
        label = example[a["kto_tag"]]
        # feedback.py: the real response is response[0] when kto_tag is true, else response[1]
        comp = response[0] if label else response[1]
        return "unpaired", [p, [(PREFTUNE_ROLE[comp["role"]], comp["content"])]], label
    c = [(PREFTUNE_ROLE[response[0]["role"]], response[0]["content"])]
    r = [(PREFTUNE_ROLE[response[1]["role"]], response[1]["content"])]
    return "pair", [p, c, r], None


# ---------------------------------------------------------------- driver
def golden(name, rows, convert):
    out = {"file": name, "rows": len(rows), "entries": []}
    for i, r in enumerate(rows, start=1):
        res = convert(r)
        if res is None:
            out["entries"].append({"row": i, "status": "dropped"})
            continue
        kind, segs, label = res
        status = "ok"
        if any(is_empty(s) for s in segs[1:]):
            status = "invalid"
        e = {"row": i, "status": status, "sha256": digest(kind, segs, label)}
        if i % SAMPLE_EVERY == 1:
            e["kind"] = kind
            e["segments"] = [as_json_seg(s) for s in segs]
            if label is not None:
                e["label"] = label
        out["entries"].append(e)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    counts = {}
    for e in out["entries"]:
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    print(path, len(rows), counts)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    golden("hh_rlhf_harmless_200", read_jsonl(os.path.join(PREF, "hh_rlhf_harmless_200.jsonl")), hh_row)
    golden("ultrafeedback_binarized_200", read_jsonl(os.path.join(PREF, "ultrafeedback_binarized_200.jsonl")), trl_standard_row)
    lf_dir = os.path.join(PREF, "llamafactory")
    with open(os.path.join(lf_dir, "dataset_info.json"), encoding="utf-8") as f:
        info = json.load(f)
    for name in ["dpo_en_demo", "dpo_zh_demo", "kto_en_demo"]:
        a = lf_attr(info, name)
        with open(os.path.join(lf_dir, info[name]["file_name"]), encoding="utf-8") as f:
            rows = json.load(f)
        golden(name, rows, lambda ex, a=a: lf_row(a, ex))


if __name__ == "__main__":
    main()
