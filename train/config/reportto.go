package config

import (
	"slices"
	"strings"
)

// Integrations are the report_to values preftune writes: TensorBoard event files.
var Integrations = []string{"tensorboard"}

// normalizeReportTo reads report_to as transformers does: a name or a list of names,
// "all" for every integration available, "none" for none. It lowercases the names and
// drops "none"; "all" becomes the integrations preftune has.
func (l *Loaded) normalizeReportTo() error {
	c := &l.Config
	var out []string
	for _, r := range c.ReportTo {
		r = strings.ToLower(strings.TrimSpace(r))
		switch r {
		case "", "none":
			continue
		case "all":
			out = append(out, Integrations...)
		default:
			out = append(out, r)
		}
	}
	slices.Sort(out)
	c.ReportTo = slices.Compact(out)
	if len(c.ReportTo) == 0 {
		c.ReportTo = nil
	}
	return nil
}

// Reports reports whether report_to names the integration (after normalisation).
func (c *Config) Reports(name string) bool { return slices.Contains(c.ReportTo, name) }

// UnsupportedReports are the report_to names preftune does not write (wandb, mlflow,
// ...): the trainer warns once, naming them, and goes on.
func (c *Config) UnsupportedReports() []string {
	var out []string
	for _, r := range c.ReportTo {
		if !slices.Contains(Integrations, r) {
			out = append(out, r)
		}
	}
	return out
}
