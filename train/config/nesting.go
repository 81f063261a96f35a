package config

import "fmt"

// maxNesting bounds how deeply a config's YAML may nest collections. A training
// config nests two or three levels (a list of losses, a mapping of model_init_kwargs);
// the YAML decoder accepts 10000, spending milliseconds and deep stacks on such
// documents before Parse refuses them anyway.
const maxNesting = 100

// checkNesting refuses YAML whose collections nest deeper than maxNesting, before
// the decoder reads it. The depth is estimated in one pass: flow brackets ('[', '{')
// not in a quoted scalar or a comment, plus the block indicators ("- ", "? ") that
// open a line. Text that only looks nested (brackets in a block scalar or mid-scalar)
// counts too, so a document is refused only when it holds over maxNesting such
// openers unclosed, which no real config does.
func checkNesting(raw []byte) error {
	depth, line := 0, 1
	quote := byte(0)  // the quote of the quoted scalar being read, or 0
	lineStart := true // only indentation read on this line so far
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\n' {
			line++
			lineStart = true
			continue
		}
		if quote != 0 {
			switch {
			case quote == '"' && c == '\\' && i+1 < len(raw) && raw[i+1] != '\n':
				i++ // an escaped character (an escaped line break is counted above)
			case quote == '\'' && c == '\'' && i+1 < len(raw) && raw[i+1] == '\'':
				i++ // '' is a quote inside a single-quoted scalar
			case c == quote:
				quote = 0
			}
			continue
		}
		prev := byte(' ')
		if i > 0 {
			prev = raw[i-1]
		}
		switch c {
		case ' ', '\t':
			continue
		case '#':
			if prev == ' ' || prev == '\t' || prev == '\n' || i == 0 {
				for i+1 < len(raw) && raw[i+1] != '\n' {
					i++
				}
				continue
			}
		case '"', '\'':
			switch prev {
			case ' ', '\t', '\n', '[', '{', ',', ':':
				quote = c
			}
			if i == 0 {
				quote = c
			}
		case '[', '{':
			depth++
		case ']', '}':
			depth = max(depth-1, 0)
		case '-', '?':
			if lineStart && (i+1 == len(raw) || raw[i+1] == ' ') {
				// "- - - x" opens a collection per indicator, for this line only.
				n, j := 0, i
				for j < len(raw) && (raw[j] == '-' || raw[j] == '?') && (j+1 == len(raw) || raw[j+1] == ' ') {
					n++
					for j += 2; j < len(raw) && raw[j] == ' '; j++ {
					}
				}
				if depth+n > maxNesting {
					return nestingError(line)
				}
				i, lineStart = j-1, false
				continue
			}
		}
		lineStart = false
		if depth > maxNesting {
			return nestingError(line)
		}
	}
	return nil
}

func nestingError(line int) error {
	return &Error{Line: line, Msg: fmt.Sprintf("line %d: collections nest more than %d levels deep", line, maxNesting)}
}
