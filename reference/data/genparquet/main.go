// Command genparquet writes the Parquet fixtures of package data from their JSON
// twins, with the schema shape Hugging Face datasets (pyarrow) writes: every column
// optional, lists as LIST groups with an "element" field, structs as groups. No
// pyarrow is available on this project's machines (Debian has no python3-pyarrow), so
// the files are written with parquet-go, and data's tests check that reading them
// back gives exactly the examples read from the JSON.
//
// Run from the repository root: go run ./reference/data/genparquet
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/parquet-go/parquet-go"
)

const dir = "data/testdata/fixtures"

type msg struct {
	Role    *string `parquet:"role,optional" json:"role"`
	Content *string `parquet:"content,optional" json:"content"`
}

type sharegptMsg struct {
	From  *string `parquet:"from,optional" json:"from"`
	Value *string `parquet:"value,optional" json:"value"`
}

type trlStandard struct {
	Prompt   *string `parquet:"prompt,optional" json:"prompt"`
	Chosen   *string `parquet:"chosen,optional" json:"chosen"`
	Rejected *string `parquet:"rejected,optional" json:"rejected"`
}

type trlConversational struct {
	Prompt   []*msg `parquet:"prompt,optional,list" json:"prompt"`
	Chosen   []*msg `parquet:"chosen,optional,list" json:"chosen"`
	Rejected []*msg `parquet:"rejected,optional,list" json:"rejected"`
}

type pretokenized struct {
	PromptInputIDs   []int32 `parquet:"prompt_input_ids,optional,list" json:"prompt_input_ids"`
	ChosenInputIDs   []int32 `parquet:"chosen_input_ids,optional,list" json:"chosen_input_ids"`
	RejectedInputIDs []int32 `parquet:"rejected_input_ids,optional,list" json:"rejected_input_ids"`
}

type listwise struct {
	Prompt    *string   `parquet:"prompt,optional" json:"prompt"`
	Responses []string  `parquet:"responses,optional,list" json:"responses"`
	Scores    []float64 `parquet:"scores,optional,list" json:"scores"`
}

type sharegptRanking struct {
	Conversations []*sharegptMsg `parquet:"conversations,optional,list" json:"conversations"`
	Chosen        *sharegptMsg   `parquet:"chosen,optional" json:"chosen"`
	Rejected      *sharegptMsg   `parquet:"rejected,optional" json:"rejected"`
}

type sharegptKTO struct {
	Messages []*msg `parquet:"messages,optional,list" json:"messages"`
	Label    *bool  `parquet:"label,optional" json:"label"`
}

func main() {
	check(convert[trlStandard]("trl_standard.jsonl", "trl_standard.parquet"))
	check(convert[trlConversational]("trl_conversational_plain.jsonl", "trl_conversational.parquet"))
	check(convert[pretokenized]("pretokenized.jsonl", "pretokenized.parquet"))
	check(convert[listwise]("listwise_scores.jsonl", "listwise.parquet"))
	check(convert[sharegptRanking]("sharegpt_ranking.json", "sharegpt_ranking.parquet"))
	check(convert[sharegptKTO]("sharegpt_kto.json", "sharegpt_kto.parquet"))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "genparquet:", err)
		os.Exit(1)
	}
}

// convert reads rows of type T from a JSON array or JSON Lines file and writes them
// to a Parquet file next to it (in two row groups, to exercise row-group changes).
func convert[T any](src, dst string) error {
	b, err := os.ReadFile(filepath.Join(dir, src))
	if err != nil {
		return err
	}
	var rows []T
	if strings.HasSuffix(src, ".json") {
		if err := json.Unmarshal(b, &rows); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
	} else {
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r T
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return fmt.Errorf("%s:%d: %w", src, i+1, err)
			}
			rows = append(rows, r)
		}
	}
	f, err := os.Create(filepath.Join(dir, dst))
	if err != nil {
		return err
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Snappy))
	half := (len(rows) + 1) / 2
	for _, part := range [][]T{rows[:half], rows[half:]} {
		if len(part) == 0 {
			continue
		}
		if _, err := w.Write(part); err != nil {
			return fmt.Errorf("%s: %w", dst, err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("%s: %w", dst, err)
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	fmt.Printf("%s: %d rows from %s\n", dst, len(rows), src)
	return f.Close()
}
