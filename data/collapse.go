package data

import "fmt"

// CollapseWarning describes the pairs that truncation made identical, or "" when
// there are none.
func (r *TokenizeReport) CollapseWarning() string {
	if r.Collapsed == 0 {
		return ""
	}
	return fmt.Sprintf("warning: %d of %d pairs have identical chosen and rejected tokens after truncation (first: %s); "+
		"they carry no preference signal: raise max_length/cutoff_len, max_prompt_length or max_completion_length",
		r.Collapsed, r.Pairs, r.FirstCollapsed)
}

// CollapseError is an error when every kept pair collapsed under truncation (training
// would only log a constant loss), nil otherwise.
func (r *TokenizeReport) CollapseError() error {
	if r.Collapsed == 0 || r.Collapsed < r.Pairs {
		return nil
	}
	return fmt.Errorf("every pair (%d) has identical chosen and rejected tokens after truncation (first: %s), so training "+
		"would learn nothing: raise max_length/cutoff_len, max_prompt_length or max_completion_length", r.Pairs, r.FirstCollapsed)
}
