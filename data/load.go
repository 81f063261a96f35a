package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Policy says what loading does with an invalid row.
type Policy int

const (
	// PolicyStrict stops at the first invalid row and returns its *RowError.
	PolicyStrict Policy = iota
	// PolicyDrop records invalid rows in the Report and skips them.
	PolicyDrop
)

// Options control [Load].
type Options struct {
	// DatasetDir is LLaMA-Factory's dataset_dir: names in the spec are looked up in
	// DatasetDir/dataset_info.json. When empty, a file whose directory holds a
	// dataset_info.json with an entry for it is read with that entry.
	DatasetDir string
	// Format forces a format for plain files instead of detecting it.
	Format Format
	// Columns maps canonical field names (prompt, chosen, rejected, completion, label,
	// responses, scores, ranking, instruction, ...) to the file's column names, e.g.
	// {"prompt": "question", "chosen": "response_j", "rejected": "response_k"}.
	Columns map[string]string
	// Policy says what to do with invalid rows.
	Policy Policy
	// DropIdentical skips pairs whose chosen and rejected are identical (they are
	// kept, with a warning, by default, as TRL keeps them).
	DropIdentical bool
	// MaxRowBytes limits the size of one row (see [DefaultMaxRowBytes]); 0 means the
	// default, a negative value no limit.
	MaxRowBytes int
	// Hub, when set, gives the local files of a Hugging Face Hub dataset's split, for
	// dataset_info.json entries with hf_hub_url (package hf/hub); nil refuses them.
	Hub func(repoID, split string) ([]string, error)
	// Each, when set, receives every kept example as it is read, instead of Load
	// collecting them in Dataset.Examples: loading then streams, holding one row and
	// 16 bytes a row (plus map overhead) for duplicate detection, and the issues.
	Each func(*Example) error
}

// Dataset is what [Load] returns: the usable examples and a report on everything read.
type Dataset struct {
	Examples []Example
	Report   Report
}

// SourceReport describes one file.
type SourceReport struct {
	Path    string
	Dataset string // LLaMA-Factory dataset name, when read through a registry
	Formats map[Format]int
	Rows    int // rows read
	Loaded  int // examples kept
}

// Report counts what loading saw.
type Report struct {
	Sources    []SourceReport
	Rows       int // rows read, including unreadable ones
	Loaded     int // examples kept
	Invalid    int // rows skipped as invalid (PolicyDrop)
	Dropped    int // rows skipped as the source format's loader skips them
	Identical  int // pairs with chosen == rejected
	EmptyField int // rows with an empty prompt or completion
	Duplicates int // examples equal to an earlier one (kept)
	Kinds      map[Kind]int
	Issues     []Issue // every problem, in file order
}

// Reasons groups the skipped rows by reason (the message without file and row).
func (r *Report) Reasons() map[string]int {
	out := map[string]int{}
	for _, is := range r.Issues {
		if is.Severity == Warning {
			continue
		}
		out[is.Severity.String()+": "+reasonOf(is.RowError)]++
	}
	return out
}

func reasonOf(e *RowError) string {
	msg := e.Msg
	// Strip per-row detail so equal problems group together.
	if i := strings.Index(msg, " (row has:"); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, ` "`); i >= 0 && strings.HasPrefix(msg, "dropped") {
		msg = msg[:i]
	}
	if f := e.Field; f != "" {
		f = stripIndexes(f)
		return f + ": " + msg
	}
	return msg
}

// stripIndexes turns conversations[3].from into conversations[].from.
func stripIndexes(f string) string {
	var b strings.Builder
	skip := false
	for _, c := range f {
		switch {
		case c == '[':
			skip = true
			b.WriteRune(c)
		case c == ']':
			skip = false
			b.WriteRune(c)
		case !skip:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Load reads a dataset spec: one or more comma-separated items, each a file, a
// directory of files, or (with a registry) a LLaMA-Factory dataset name.
func Load(spec string, opts Options) (*Dataset, error) {
	l := newLoader(opts)
	var reg *Registry
	if opts.DatasetDir != "" {
		var err error
		if reg, err = LoadRegistry(opts.DatasetDir); err != nil {
			return nil, err
		}
	}
	items := strings.Split(spec, ",")
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if err := l.loadItem(item, reg); err != nil {
			return l.ds, err
		}
	}
	if len(l.ds.Report.Sources) == 0 {
		return l.ds, fmt.Errorf("no dataset given")
	}
	return l.ds, nil
}

type loader struct {
	opts Options
	ds   *Dataset
	seen map[[16]byte]bool
}

func newLoader(opts Options) *loader {
	return &loader{opts: opts, ds: &Dataset{Report: Report{Kinds: map[Kind]int{}}}, seen: map[[16]byte]bool{}}
}

func (l *loader) loadItem(item string, reg *Registry) error {
	if reg != nil {
		if _, ok := reg.Entries[item]; ok {
			a, err := reg.Attr(item)
			if err != nil {
				return err
			}
			return l.loadLF(reg.Dir, a)
		}
	}
	st, err := os.Stat(item)
	if err != nil {
		if reg != nil {
			return fmt.Errorf("dataset %s: no such file, and %s has no dataset of that name (registered: %s)", item, reg.Path, strings.Join(reg.Names(), ", "))
		}
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: no such file or directory (want a JSON, JSONL or Parquet file, a directory of them, or a dataset name with dataset_dir / --dataset-dir)", item)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: %w", item, err)
	}
	if st.IsDir() {
		if err := checkSaveToDisk(item); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(item, registryFile)); err == nil && reg == nil {
			r, err := LoadRegistry(item)
			if err != nil {
				return err
			}
			var present []string
			for _, n := range r.Names() {
				if a, err := r.Attr(n); err == nil && a.HubURL == "" {
					if _, err := os.Stat(filepath.Join(item, a.FileName)); err == nil {
						present = append(present, n)
					}
				}
			}
			return fmt.Errorf("dataset %s is a LLaMA-Factory dataset_dir: name its datasets with --dataset-dir %s NAME[,NAME] (present: %s)", item, item, strings.Join(present, ", "))
		}
	}
	files, err := expandPath(item)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", item, err)
	}
	for _, f := range files {
		// A file listed in its directory's dataset_info.json is read with that entry.
		if l.opts.Format == FormatAuto && len(l.opts.Columns) == 0 {
			dir := filepath.Dir(f)
			if _, err := os.Stat(filepath.Join(dir, registryFile)); err == nil {
				if r, err := LoadRegistry(dir); err == nil {
					if a, ok := r.entryForFile(filepath.Base(f)); ok {
						if err := l.loadFile(f, &a); err != nil {
							return err
						}
						continue
					}
				}
			}
		}
		if err := l.loadFile(f, nil); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) loadLF(dir string, a LFAttr) error {
	var files []string
	var err error
	if a.HubURL != "" {
		files, err = l.hubFiles(a)
	} else if files, err = expandPath(filepath.Join(dir, a.FileName)); err != nil {
		err = fmt.Errorf("dataset %s (file_name %s): %w", a.Name, a.FileName, err)
	}
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := l.loadFile(f, &a); err != nil {
			return err
		}
	}
	return nil
}

// converter turns one row into an example.
type converter func(r *row, ex *Example, is *issues)

// loadReader is [Load] of one plain file whose content is r: name, the file's path,
// gives the format by its extension and is the source every example and error
// names. No dataset_info.json is looked up (Options.DatasetDir is not read). Load
// runs the same reading on every file it opens; the fuzzer calls this directly.
func loadReader(name string, r io.Reader, opts Options) (*Dataset, error) {
	l := newLoader(opts)
	read := func(fn func(*Record) error) error {
		return readRecordsFrom(name, r, ReadOptions{MaxRowBytes: l.opts.MaxRowBytes}, fn)
	}
	if err := l.loadRecords(name, nil, read); err != nil {
		return l.ds, err
	}
	return l.ds, nil
}

// loadFile reads one file. lf, when set, is its LLaMA-Factory registry entry.
func (l *loader) loadFile(path string, lf *LFAttr) error {
	return l.loadRecords(path, lf, func(fn func(*Record) error) error {
		return ReadRecordsWith(path, ReadOptions{MaxRowBytes: l.opts.MaxRowBytes}, fn)
	})
}

// loadRecords converts and keeps the records read streams for the file at path.
func (l *loader) loadRecords(path string, lf *LFAttr, read func(fn func(*Record) error) error) error {
	rep := &l.ds.Report
	rep.Sources = append(rep.Sources, SourceReport{Path: path, Formats: map[Format]int{}})
	src := &rep.Sources[len(rep.Sources)-1]
	if lf != nil {
		src.Dataset = lf.Name
	}
	var conv converter
	source := map[string]string{}
	for canon, col := range l.opts.Columns {
		source[canon] = col
	}
	if lf != nil {
		conv = lfConverter(lf)
	}
	err := read(func(rec *Record) error {
		rep.Rows++
		src.Rows++
		if rec.Err != nil {
			return l.record(Issue{Severity: Invalid, RowError: rec.Err})
		}
		fields := rec.Fields
		if len(l.opts.Columns) > 0 {
			fields = applyColumns(fields, l.opts.Columns)
		}
		if conv == nil {
			// Mapped columns count as present for detection, so that a row missing
			// one is reported as a missing field rather than an unknown format.
			probe := fields
			if len(l.opts.Columns) > 0 {
				probe = make(map[string]any, len(fields))
				for k, v := range fields {
					probe[k] = v
				}
				for canon := range l.opts.Columns {
					if _, ok := probe[canon]; !ok {
						probe[canon] = nil
					}
				}
			}
			c, err := detect(probe, l.opts.Format)
			if err != nil {
				e := &RowError{Source: path, Row: rec.Row, Err: ErrUnknownFormat, Msg: err.Error()}
				// An unrecognised first row means an unrecognised file: stop here.
				return e
			}
			conv = c
		}
		ex := Example{Source: path, Row: rec.Row}
		var is issues
		conv(&row{fields: fields, source: source}, &ex, &is)
		for _, i := range is {
			i.Source, i.Row = path, rec.Row
			if err := l.record(i); err != nil {
				return err
			}
		}
		if is.invalid() {
			return nil
		}
		return l.keep(src, &ex, is)
	})
	return err
}

// record notes an issue; under PolicyStrict an invalid row stops loading.
func (l *loader) record(i Issue) error {
	rep := &l.ds.Report
	rep.Issues = append(rep.Issues, i)
	switch i.Severity {
	case Invalid:
		if l.opts.Policy == PolicyStrict {
			return i.RowError
		}
		rep.Invalid++
	case Dropped:
		rep.Dropped++
	}
	if errors.Is(i.RowError, ErrEmpty) {
		rep.EmptyField++
	}
	return nil
}

// keep adds a converted example to the dataset.
func (l *loader) keep(src *SourceReport, ex *Example, is issues) error {
	rep := &l.ds.Report
	for _, i := range is {
		if errors.Is(i.RowError, ErrIdentical) {
			rep.Identical++
			if l.opts.DropIdentical {
				return nil
			}
		}
	}
	if l.seenBefore(ex) {
		rep.Duplicates++
	}
	src.Formats[ex.Format]++
	src.Loaded++
	rep.Loaded++
	rep.Kinds[ex.Kind]++
	if l.opts.Each != nil {
		return l.opts.Each(ex)
	}
	l.ds.Examples = append(l.ds.Examples, *ex)
	return nil
}

// seenBefore reports whether an equal example was loaded before (by content hash).
func (l *loader) seenBefore(ex *Example) bool {
	k := exampleHash(ex)
	if l.seen[k] {
		return true
	}
	l.seen[k] = true
	return false
}

// applyColumns renames the mapped columns to their canonical names.
func applyColumns(fields map[string]any, cols map[string]string) map[string]any {
	out := make(map[string]any, len(fields))
	mapped := map[string]bool{}
	for _, col := range cols {
		mapped[col] = true
	}
	for k, v := range fields {
		if !mapped[k] {
			out[k] = v
		}
	}
	for canon, col := range cols {
		if v, ok := fields[col]; ok {
			out[canon] = v
		} else {
			delete(out, canon) // a missing mapped column is reported under its own name
		}
	}
	return out
}

func lfConverter(a *LFAttr) converter {
	if a.Formatting == "sharegpt" {
		return func(r *row, ex *Example, is *issues) { convertShareGPT(a, r, ex, is) }
	}
	return func(r *row, ex *Example, is *issues) { convertAlpaca(a, r, ex, is) }
}

// formatHelp lists the layouts detection knows, for unknown-format errors.
const formatHelp = `{prompt, chosen, rejected} (TRL, strings or message lists); {chosen, rejected} (TRL implicit prompt); ` +
	`{prompt_input_ids, chosen_input_ids, rejected_input_ids} (pre-tokenized); {prompt, completion, label} (TRL unpaired/KTO); ` +
	`{prompt, responses, scores|ranking} (listwise); {instruction, input, chosen, rejected} (LLaMA-Factory alpaca); ` +
	`{conversations|messages, chosen, rejected} or {messages, label} (LLaMA-Factory sharegpt); ` +
	`other column names can be mapped with --columns prompt=COL,chosen=COL,rejected=COL`

// detect picks the converter for a file from the keys of its first row (or the forced
// format).
func detect(fields map[string]any, forced Format) (converter, error) {
	has := func(k string) bool { _, ok := fields[k]; return ok }
	f := forced
	if f == FormatAuto {
		switch {
		case has("chosen_input_ids") || has("rejected_input_ids") || has("prompt_input_ids"):
			f = FormatTRLPretokenized
		case has("conversations") || (has("messages") && !has("prompt")):
			f = FormatShareGPT
		case has("instruction"):
			f = FormatAlpaca
		case has("chosen") && has("rejected"):
			f = FormatTRL
		case has("completion") && has("label"):
			f = FormatTRLUnpaired
		case has("responses") && (has("scores") || has("ranking")):
			f = FormatListwise
		// A row with part of a layout's keys: read it as that layout, so that the
		// missing key is reported as a missing field.
		case has("chosen") || has("rejected"):
			f = FormatTRL
		case has("completion") || (has("prompt") && has("label")):
			f = FormatTRLUnpaired
		case has("responses"):
			f = FormatListwise
		default:
			hint := ""
			if has("completions") || (has("response") && has("helpfulness")) {
				hint = "; rated responses (UltraFeedback, HelpSteer) become pairs with `preftune data from-ratings`"
			}
			return nil, fmt.Errorf("unknown format: row has keys {%s}; expected one of: %s%s", strings.Join(sortedKeys(fields), ", "), formatHelp, hint)
		}
	}
	switch f {
	case FormatTRL, FormatTRLConversational, FormatTRLImplicit, FormatHHRLHF:
		return convertPair, nil
	case FormatTRLPretokenized:
		return convertPretokenized, nil
	case FormatTRLUnpaired:
		return convertUnpaired, nil
	case FormatListwise:
		return convertListwise, nil
	case FormatAlpaca:
		a := guessLFAttr("alpaca", fields)
		return lfConverter(&a), nil
	case FormatShareGPT:
		a := guessLFAttr("sharegpt", fields)
		return lfConverter(&a), nil
	}
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown format %q (known: %s)", forced, strings.Join(names, ", "))
}
