package data

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDetectLanguage(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Hello, world!", "en"},
		{"Ça va très bien", "en"}, // Latin script: en by the rule
		{"你好，世界", "zh"},
		{"こんにちは世界", "ja"},                     // 5 kana + 2 Han: kana ≥ 1/10
		{"東京は日本の首都です", "ja"},                  // 6 Han + 4 kana
		{strings.Repeat("中", 19) + "の", "zh"}, // 1 kana of 20 CJK: under a tenth
		{strings.Repeat("中", 9) + "の", "ja"},  // 1 of 10: exactly a tenth
		{"안녕하세요", "ko"},
		{"Привет, мир", "ru"},
		{"مرحبا بالعالم", "ar"},
		{"Γειά σου κόσμε", "other"},
		{"12345 !!! ...", "und"},
		{"", "und"},
		{"Translate 你好 into English", "en"}, // 20 Latin letters vs 2 Han
		{"用Python写一个排序函数", "zh"},            // 8 Han vs 6 Latin
		{"ab 你好", "zh"},                     // 2 vs 2: the tie goes to CJK
		{"ab мы", "ru"},                     // 2 vs 2: Cyrillic before Latin
	}
	for _, tc := range tests {
		if got := DetectLanguage(tc.text); got != tc.want {
			t.Errorf("DetectLanguage(%q) = %s, want %s", tc.text, got, tc.want)
		}
	}
}

func TestExampleText(t *testing.T) {
	ex := Example{Kind: KindPair, Conversational: true,
		Prompt: Segment{Messages: []Message{{Role: "system", Content: "Sys"}, {Role: "user", Content: "Q"}}},
		Chosen: Segment{Messages: []Message{{Role: "assistant", Content: "A"}}}, Rejected: Segment{Messages: []Message{{Role: "assistant", Content: "R"}}}}
	if got, want := ExampleText(&ex), "\nSys\nQ\n\nA\n"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		total  int
		ratios []LangRatio
		want   []int
	}{
		{10, []LangRatio{{"en", 0.7}, {"zh", 0.3}}, []int{7, 3}},
		// 5.5 and 4.5: floors 5 and 4, the one row left goes to the first of the tie.
		{10, []LangRatio{{"en", 0.55}, {"zh", 0.45}}, []int{6, 4}},
		// The same tie listed the other way round: zh (4.5) is first and gets the row.
		{10, []LangRatio{{"zh", 0.45}, {"en", 0.55}}, []int{5, 5}},
		// 7/3 = 2.33 each: 2+2+2, one left → first.
		{7, []LangRatio{{"a", 1.0 / 3}, {"b", 1.0 / 3}, {"c", 1.0 / 3}}, []int{3, 2, 2}},
		// 2.6, 1.8, 0.6: floors 2, 1, 0 (3); two left: zh (.8), then en (.6, listed before ja).
		{5, []LangRatio{{"en", 0.52}, {"zh", 0.36}, {"ja", 0.12}}, []int{3, 2, 0}},
		{1000, []LangRatio{{"en", 0.7}, {"zh", 0.3}}, []int{700, 300}},
	}
	for _, tc := range tests {
		if got := Targets(tc.total, tc.ratios); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Targets(%d, %v) = %v, want %v", tc.total, tc.ratios, got, tc.want)
		}
	}
}

func TestParseRatios(t *testing.T) {
	got, err := ParseRatios("en=0.7, zh=0.3")
	if err != nil || !reflect.DeepEqual(got, []LangRatio{{"en", 0.7}, {"zh", 0.3}}) {
		t.Errorf("got %v %v", got, err)
	}
	for _, bad := range []string{"en", "en=0.7", "en=0.7,zh=0.4", "en=0.5,en=0.5", "en=x,zh=1", "en=0,zh=1", "=1"} {
		if _, err := ParseRatios(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// sampleFixture: 8 distinct English pairs (rows 1-8), the first one twice more (rows
// 9, 10: duplicates), 4 Chinese (rows 11-14), 2 Japanese (15, 16), 1 without letters (17).
func sampleFixture() []Example {
	var exs []Example
	add := func(prompt, chosen string) {
		exs = append(exs, Example{Kind: KindPair, Row: len(exs) + 1, Prompt: Segment{Text: prompt}, Chosen: Segment{Text: chosen}, Rejected: Segment{Text: "x"}})
	}
	for i := 1; i <= 8; i++ {
		add(fmt.Sprintf("English question %d", i), "An answer.")
	}
	add("English question 1", "An answer.")
	add("English question 1", "An answer.")
	for i := 1; i <= 4; i++ {
		add(fmt.Sprintf("中文问题%d", i), "这是回答。")
	}
	add("日本語の質問です", "はい、そうです。")
	add("もう一つの質問", "いいえ。")
	add("123", "456")
	return exs
}

func rowsOf(exs []Example) []int {
	var r []int
	for _, e := range exs {
		r = append(r, e.Row)
	}
	return r
}

func TestSample(t *testing.T) {
	exs := sampleFixture()
	en, zh := []LangRatio{{"en", 1}}, []LangRatio{{"en", 0.7}, {"zh", 0.3}}
	t.Run("counts", func(t *testing.T) {
		out, rep, err := Sample(exs, SampleOptions{Total: 10, Ratios: zh, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := SampleReport{Input: 17, Duplicates: 2, Available: map[string]int{"en": 8, "zh": 4, "ja": 2, "und": 1},
			Target: map[string]int{"en": 7, "zh": 3}, Taken: map[string]int{"en": 7, "zh": 3}, Excluded: 3}
		if !reflect.DeepEqual(*rep, want) {
			t.Errorf("report %+v\nwant %+v", *rep, want)
		}
		nen, nzh := 0, 0
		rows := rowsOf(out)
		for i, r := range rows {
			switch {
			case r >= 1 && r <= 8:
				nen++
			case r >= 11 && r <= 14:
				nzh++
			default:
				t.Errorf("row %d sampled (a duplicate or an excluded language)", r)
			}
			if i > 0 && rows[i-1] >= r {
				t.Errorf("output not in input order: %v", rows)
			}
		}
		if nen != 7 || nzh != 3 {
			t.Errorf("%d en + %d zh, want 7 + 3", nen, nzh)
		}
	})
	t.Run("all of a language", func(t *testing.T) {
		out, _, err := Sample(exs, SampleOptions{Total: 8, Ratios: en, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		if got := rowsOf(out); !reflect.DeepEqual(got, []int{1, 2, 3, 4, 5, 6, 7, 8}) {
			t.Errorf("rows %v, want every distinct English row", got)
		}
	})
	t.Run("deterministic by seed", func(t *testing.T) {
		a, _, _ := Sample(exs, SampleOptions{Total: 10, Ratios: zh, Seed: 42})
		b, _, _ := Sample(exs, SampleOptions{Total: 10, Ratios: zh, Seed: 42})
		if !reflect.DeepEqual(rowsOf(a), rowsOf(b)) {
			t.Errorf("same seed, different samples: %v %v", rowsOf(a), rowsOf(b))
		}
		differ := false
		for s := uint64(1); s <= 5 && !differ; s++ {
			c, _, _ := Sample(exs, SampleOptions{Total: 10, Ratios: zh, Seed: 42 + s})
			differ = !reflect.DeepEqual(rowsOf(a), rowsOf(c))
		}
		if !differ {
			t.Errorf("six seeds gave the same sample of 7 of 8 × 3 of 4 (32 possible)")
		}
	})
	t.Run("uniform", func(t *testing.T) {
		// Each distinct English row is in a 7-of-8 sample with probability 7/8: over
		// 2000 seeds, 1750 times, standard deviation √(2000·7/8·1/8) ≈ 14.8.
		count := map[int]int{}
		for s := uint64(0); s < 2000; s++ {
			out, _, _ := Sample(exs, SampleOptions{Total: 7, Ratios: en, Seed: s})
			for _, r := range rowsOf(out) {
				count[r]++
			}
		}
		for r := 1; r <= 8; r++ {
			if c := count[r]; c < 1750-90 || c > 1750+90 {
				t.Errorf("row %d sampled %d times of 2000, want 1750 ± 90", r, c)
			}
		}
	})
	t.Run("not enough", func(t *testing.T) {
		half := []LangRatio{{"en", 0.5}, {"zh", 0.5}}
		_, _, err := Sample(exs, SampleOptions{Total: 10, Ratios: half})
		if err == nil || !strings.Contains(err.Error(), "zh: 5 wanted, 4 available") {
			t.Errorf("error %v", err)
		}
		out, rep, err := Sample(exs, SampleOptions{Total: 10, Ratios: half, AllowShort: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 9 || rep.Taken["en"] != 5 || rep.Taken["zh"] != 4 || !reflect.DeepEqual(rep.Short, []string{"zh"}) {
			t.Errorf("allow short: %d rows, report %+v", len(out), rep)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		if _, _, err := Sample(exs, SampleOptions{Total: 0, Ratios: en}); err == nil {
			t.Error("total 0: no error")
		}
		if _, _, err := Sample(exs, SampleOptions{Total: 3}); err == nil {
			t.Error("no ratios: no error")
		}
	})
}
