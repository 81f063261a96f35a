package data

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// LLaMA-Factory's chat templates (src/llamafactory/data/template.py), for `stage:`
// configs: LLaMA-Factory does not render the model's Jinja chat template when
// `template:` names one of its own, it concatenates the template's slots message by
// message and encodes each slot on its own (Template._encode). This file holds the
// built-in equivalents preftune ships and that encoding.

// lfSlot is one slot of a formatter: text (with {{content}}/{{idx}} placeholders), a
// named token ({"token": ...}), or the tokenizer's BOS/EOS ({"bos_token"}/{"eos_token"}).
type lfSlot struct {
	text     string
	token    string
	bos, eos bool
}

func s(text string) lfSlot { return lfSlot{text: text} }

var (
	bosSlot = lfSlot{bos: true}
	eosSlot = lfSlot{eos: true}
)

// LFTemplate is one LLaMA-Factory template (register_template's arguments).
type LFTemplate struct {
	Name                                                   string
	prefix, user, assistant, system, observation, function []lfSlot
	DefaultSystem                                          string
	StopWords                                              []string
	EfficientEOS, ReplaceEOS                               bool
	llama2                                                 bool // Llama2Template: the system text is fused into the first user message
	Reasoning                                              bool // ReasoningTemplate (empty thought added to responses without one)
	EnableThinking                                         bool // data_args.enable_thinking (LLaMA-Factory's default: true)
	thought                                                [2]string
	parsed                                                 bool // parsed from the model's chat template (no template: key)
	toolFormat                                             string
}

// lfTemplates are the built-in templates; the formats are those of LLaMA-Factory's
// template.py (commit ff6d4d12, 2025-08), register_template's defaults filled in.
var lfTemplates = func() map[string]*LFTemplate {
	chatmlUser := []lfSlot{s("<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n")}
	chatmlAsst := []lfSlot{s("{{content}}<|im_end|>\n")}
	chatmlSys := []lfSlot{s("<|im_start|>system\n{{content}}<|im_end|>\n")}
	qwenObs := []lfSlot{s("<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n<|im_start|>assistant\n")}
	qwenFamily := func(name, defaultSystem string, reasoning bool) *LFTemplate {
		return &LFTemplate{Name: name, user: chatmlUser, assistant: chatmlAsst, system: chatmlSys, observation: qwenObs,
			function: chatmlAsst, DefaultSystem: defaultSystem, StopWords: []string{"<|im_end|>"}, ReplaceEOS: true,
			Reasoning: reasoning, toolFormat: "qwen"}
	}
	llama3User := []lfSlot{s("<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")}
	llama3Asst := []lfSlot{s("{{content}}<|eot_id|>")}
	ts := []*LFTemplate{
		{Name: "default",
			user:      []lfSlot{s("Human: {{content}}"), eosSlot, s("\nAssistant:")},
			assistant: []lfSlot{s("{{content}}"), eosSlot, s("\n")},
			system:    []lfSlot{s("System: {{content}}"), eosSlot, s("\n")}},
		{Name: "empty", assistant: []lfSlot{s("{{content}}")}},
		{Name: "chatml", user: chatmlUser, assistant: chatmlAsst, system: chatmlSys,
			observation: []lfSlot{s("<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n")},
			StopWords:   []string{"<|im_end|>", "<|im_start|>"}, ReplaceEOS: true},
		qwenFamily("qwen", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", false),
		qwenFamily("qwen3", "", true),
		qwenFamily("qwen3_nothink", "", false),
		{Name: "llama3", user: llama3User, assistant: llama3Asst,
			system:      []lfSlot{s("<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>")},
			function:    llama3Asst,
			observation: []lfSlot{s("<|start_header_id|>ipython<|end_header_id|>\n\n{{content}}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")},
			prefix:      []lfSlot{bosSlot}, StopWords: []string{"<|eot_id|>", "<|eom_id|>"}, ReplaceEOS: true, toolFormat: "llama3"},
		{Name: "llama2", user: []lfSlot{bosSlot, s("[INST] {{content}} [/INST]")},
			system: []lfSlot{s("<<SYS>>\n{{content}}\n<</SYS>>\n\n")}, llama2: true},
		{Name: "mistral", user: []lfSlot{s("[INST] {{content}}[/INST]")},
			assistant:   []lfSlot{s(" {{content}}"), eosSlot},
			system:      []lfSlot{s("{{content}}\n\n")},
			function:    []lfSlot{s("[TOOL_CALLS] {{content}}"), eosSlot},
			observation: []lfSlot{s(`[TOOL_RESULTS] {"content": {{content}}}[/TOOL_RESULTS]`)},
			prefix:      []lfSlot{bosSlot}, llama2: true, toolFormat: "mistral"},
	}
	m := map[string]*LFTemplate{}
	for _, t := range ts {
		t.fillDefaults()
		m[t.Name] = t
	}
	return m
}()

// fillDefaults applies register_template's defaults to the formatters left unset.
func (t *LFTemplate) fillDefaults() {
	defUser := []lfSlot{s("{{content}}")}
	defAsst := []lfSlot{s("{{content}}"), eosSlot}
	if t.EfficientEOS {
		defAsst = []lfSlot{s("{{content}}")}
	}
	if t.user == nil {
		t.user = defUser
	}
	if t.function == nil {
		if t.assistant != nil {
			t.function = t.assistant
		} else {
			t.function = defAsst
		}
	}
	if t.assistant == nil {
		t.assistant = defAsst
	}
	if t.system == nil {
		t.system = defUser
	}
	if t.observation == nil {
		t.observation = t.user
	}
	if t.thought == [2]string{} {
		t.thought = [2]string{"<think>\n", "\n</think>\n\n"}
	}
	if t.toolFormat == "" {
		t.toolFormat = "default"
	}
	t.EnableThinking = true
}

// lfKnownTemplates are template names LLaMA-Factory registers that preftune has no
// built-in equivalent of: refused by name rather than treated as unknown.
var lfKnownTemplates = []string{"alpaca", "aquila", "atom", "baichuan", "baichuan2", "bailing", "bailing_v2", "belle",
	"bluelm", "breeze", "chatglm2", "chatglm3", "chatml_de", "codegeex2", "codegeex4", "cohere", "cpm", "cpm3", "cpm4",
	"dbrx", "deepseek", "deepseek3", "deepseekr1", "deepseekcoder", "dots_ocr", "ernie", "ernie_nothink", "exaone", "falcon",
	"falcon_h1", "fewshot", "gemma", "gemma2", "gemma3", "gemma3n", "glm4", "glm4_moe", "glm4v", "granite3", "granite3_vision",
	"granite4", "index", "hunyuan", "intern", "intern2", "intern_vl", "intern_s1", "kimi_vl", "llama2_zh", "llama4",
	"mllama", "moonlight", "llava", "llava_next", "llava_next_video", "mimo", "mimo_vl", "minicpm_v", "minicpm_o",
	"minimax1", "minimax2", "ministral3", "mistral_small", "olmo", "openchat", "openchat-3.6", "opencoder", "paligemma",
	"phi", "phi_small", "phi4", "phi4_mini", "pixtral", "qwen2_audio", "qwen2_omni", "qwen3_omni", "qwen3_omni_nothink",
	"qwen2_vl", "qwen3_vl", "qwen3_vl_nothink", "sailor", "seed_coder", "seed_oss", "skywork", "skywork_o1", "smollm",
	"smollm2", "solar", "starchat", "telechat", "telechat2", "vicuna", "video_llava", "xuanyuan", "xverse", "yayi", "yi",
	"yi_vl", "yuan", "zephyr", "ziya", "llama3_vl"}

// LFTemplateNames lists the built-in LLaMA-Factory templates, sorted.
func LFTemplateNames() []string {
	out := make([]string, 0, len(lfTemplates))
	for n := range lfTemplates {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupLFTemplate returns the built-in template of that name (a copy the caller may
// adjust), or an error naming it: a LLaMA-Factory template without a built-in
// equivalent, or a name LLaMA-Factory does not have.
func LookupLFTemplate(name string) (*LFTemplate, error) {
	if t, ok := lfTemplates[name]; ok {
		c := *t
		return &c, nil
	}
	have := strings.Join(LFTemplateNames(), ", ")
	if slices.Contains(lfKnownTemplates, name) {
		return nil, fmt.Errorf("template %q: LLaMA-Factory's %s template has no built-in equivalent in preftune (built in: %s); omit template: to use the model's own chat template", name, name, have)
	}
	return nil, fmt.Errorf("template %q does not exist in LLaMA-Factory (built in here: %s)", name, have)
}

// lfEncoder is what LLaMA-Factory's encoding needs beyond Encoder: token lookups for
// {"token"} slots, the replaced EOS and parsed prefixes.
type lfEncoder interface {
	TokenID(token string) (int, bool)
}

// lfMsgT is one message in LLaMA-Factory's roles.
type lfMsgT struct{ role, content string }

// eosID is the EOS LLaMA-Factory's fix_special_tokens leaves the tokenizer with:
// stop_words[0] for replace_eos templates, else the tokenizer's, else <|endoftext|>.
func (t *LFTemplate) eosID(enc Encoder) (int, error) {
	name := ""
	if t.ReplaceEOS && len(t.StopWords) > 0 {
		name = t.StopWords[0]
	} else if id, ok := enc.EOS(); ok {
		return id, nil
	} else {
		name = "<|endoftext|>"
	}
	if l, ok := enc.(lfEncoder); ok {
		if id, ok := l.TokenID(name); ok {
			return id, nil
		}
	}
	return 0, fmt.Errorf("template %s: the EOS token %q is not in the tokenizer's vocabulary (LLaMA-Factory would add it and resize the embeddings; preftune does not)", t.Name, name)
}

// apply fills a formatter's slots (StringFormatter.apply: each placeholder replaced
// once, content first, then idx).
func apply(slots []lfSlot, content, idx string) []lfSlot {
	out := make([]lfSlot, len(slots))
	for i, sl := range slots {
		if sl.text != "" {
			sl.text = strings.Replace(sl.text, "{{content}}", content, 1)
			if idx != "" {
				sl.text = strings.Replace(sl.text, "{{idx}}", idx, 1)
			}
		}
		out[i] = sl
	}
	return out
}

// encodeSlots is Template._convert_elements_to_ids: every text slot encoded on its own
// without special tokens.
func (t *LFTemplate) encodeSlots(enc Encoder, slots []lfSlot, out []int) ([]int, error) {
	for _, sl := range slots {
		switch {
		case sl.text != "":
			out = append(out, enc.Encode(sl.text, false)...)
		case sl.token != "":
			l, ok := enc.(lfEncoder)
			id, found := 0, false
			if ok {
				id, found = l.TokenID(sl.token)
			}
			if !found {
				return nil, fmt.Errorf("template %s: token %q is not in the tokenizer's vocabulary", t.Name, sl.token)
			}
			out = append(out, id)
		case sl.bos:
			if id, ok := enc.BOS(); ok {
				out = append(out, id)
			}
		case sl.eos:
			id, err := t.eosID(enc)
			if err != nil {
				return nil, err
			}
			out = append(out, id)
		}
	}
	return out, nil
}

var errLFRole = fmt.Errorf("role")

// encode is Template._encode (Llama2Template._encode for llama2-style templates): one
// id list per message.
func (t *LFTemplate) encode(enc Encoder, msgs []lfMsgT, system, tools string) ([][]int, error) {
	if system == "" {
		system = t.DefaultSystem
	}
	out := make([][]int, 0, len(msgs))
	for i, m := range msgs {
		var els []lfSlot
		systemText := ""
		if i == 0 {
			els = append(els, t.prefix...)
			if system != "" || tools != "" {
				toolText := ""
				if tools != "" {
					var err error
					if toolText, err = formatLFTools(t.toolFormat, tools); err != nil {
						return nil, err
					}
				}
				sys := apply(t.system, system+toolText, "")
				if t.llama2 {
					if len(sys) > 0 {
						systemText = sys[0].text
					}
				} else {
					els = append(els, sys...)
				}
			}
		}
		switch m.role {
		case "user":
			idx := fmt.Sprint(i / 2)
			if t.llama2 {
				els = append(els, apply(t.user, systemText+m.content, "")...)
			} else {
				els = append(els, apply(t.user, m.content, idx)...)
			}
		case "assistant":
			els = append(els, apply(t.assistant, m.content, "")...)
		case "observation":
			els = append(els, apply(t.observation, m.content, "")...)
		case "function":
			content, err := formatLFFunction(t.toolFormat, m.content, t.thought)
			if err != nil {
				return nil, err
			}
			els = append(els, apply(t.function, content, "")...)
		default:
			return nil, fmt.Errorf("%w %q: LLaMA-Factory templates take user, assistant, observation and function messages", errLFRole, m.role)
		}
		ids, err := t.encodeSlots(enc, els, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, ids)
	}
	return out, nil
}

// EncodeOneTurn is Template.encode_oneturn (ReasoningTemplate's for reasoning
// templates): the ids of every message but the last (the prompt) and of the last (the
// response), with EOS appended for efficient_eos templates as the processors do.
func (t *LFTemplate) EncodeOneTurn(enc Encoder, msgs []lfMsgT, system, tools string) (prompt, response []int, err error) {
	if t.Reasoning {
		msgs = slices.Clone(msgs)
		for i := 1; i < len(msgs)-2; i += 2 { // preserve_thinking: false
			msgs[i].content = t.removeThought(msgs[i].content)
		}
		if !t.EnableThinking {
			msgs[len(msgs)-1].content = t.removeThought(msgs[len(msgs)-1].content)
		}
	}
	enc2, err := t.encode(enc, msgs, system, tools)
	if err != nil {
		return nil, nil, err
	}
	for _, ids := range enc2[:len(enc2)-1] {
		prompt = append(prompt, ids...)
	}
	response = enc2[len(enc2)-1]
	if t.Reasoning {
		last := msgs[len(msgs)-1].content
		if !strings.Contains(last, strings.TrimSpace(t.thought[0])) && !strings.Contains(last, strings.TrimSpace(t.thought[1])) {
			empty := enc.Encode(t.thought[0]+t.thought[1], false)
			if !t.EnableThinking {
				prompt = append(prompt, empty...)
			} else {
				response = append(slices.Clone(empty), response...)
			}
		}
	}
	if t.EfficientEOS {
		id, err := t.eosID(enc)
		if err != nil {
			return nil, nil, err
		}
		response = append(response, id)
	}
	return prompt, response, nil
}

var thoughtRE = regexp.MustCompile(`(?s)` + regexp.QuoteMeta("<think>\n") + `(.*?)` + regexp.QuoteMeta("\n</think>\n\n"))

// removeThought is Template.remove_thought.
func (t *LFTemplate) removeThought(content string) string {
	re := thoughtRE
	if t.thought != [2]string{"<think>\n", "\n</think>\n\n"} {
		re = regexp.MustCompile(`(?s)` + regexp.QuoteMeta(t.thought[0]) + `(.*?)` + regexp.QuoteMeta(t.thought[1]))
	}
	return strings.TrimLeft(re.ReplaceAllString(content, ""), "\n")
}
