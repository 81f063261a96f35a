package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"

	"gopkg.in/yaml.v3"
)

// MarshalYAML writes the resolved configuration as a YAML mapping that LoadFile reads
// back to the same Config: every key under its canonical name with its value (null
// for unset optional numbers), in table order; keys without effect and trainer-specific keys (cpo_alpha,
// desirable_weight, …) only when set.
// header lines, when given, are written first as YAML comments.
func (l *Loaded) MarshalYAML(header []string) ([]byte, error) {
	var b bytes.Buffer
	for _, h := range header {
		fmt.Fprintf(&b, "# %s\n", h)
	}
	m := &yaml.Node{Kind: yaml.MappingNode}
	rv := reflect.ValueOf(&l.Config).Elem()
	for _, f := range fields {
		if f.noEffect != "" && l.Set[f.name] == "" {
			continue
		}
		if _, ok := trainerKeys[f.name]; ok && l.Set[f.name] == "" {
			continue // a trainer-specific key the run did not set would select that trainer on reading back
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.name}, yamlValue(rv.Field(f.index)))
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func yamlValue(v reflect.Value) *yaml.Node {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		}
		return yamlValue(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		}
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, yamlValue(v.Index(i)))
		}
		return n
	case reflect.String:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.String()}
	case reflect.Float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatFloat(v.Float(), 'g', -1, 64)}
	case reflect.Int:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatInt(v.Int(), 10)}
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatBool(v.Bool())}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(v.Interface())}
}
