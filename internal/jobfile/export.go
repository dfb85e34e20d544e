package jobfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/connecthub/connecthub"
)

// NextFires is how many fire times the comment above each exported job
// lists.
const NextFires = 3

// SecretEnvName is the environment variable an exported secret reference
// names: the job id and the key in upper case, anything but letters and
// digits as "_" (OA_SYNC_PASSWORD for key password of job oa.sync).
func SecretEnvName(jobID, key string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return unicode.ToUpper(r)
			}
			return '_'
		}, s)
	}
	name := clean(jobID) + "_" + clean(key)
	if name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	return name
}

// Export writes jobs as YAML, one document per job in the order given,
// each field of its definition in the order of the job's JSON and nested
// objects with sorted keys, so that exporting twice gives the same bytes.
// Each document starts with a comment listing its next fire times after
// now (without the job's calendar, which the comment names). Secrets are
// written as ${ENV} references named by SecretEnvName, never values.
func Export(w io.Writer, jobs []*connecthub.Job, now time.Time) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	for _, j := range jobs {
		node, err := jobNode(j)
		if err != nil {
			return err
		}
		node.HeadComment = fireComment(j, now)
		if err := enc.Encode(node); err != nil {
			return err
		}
	}
	return enc.Close()
}

// jobNode renders a job's definition as a YAML mapping, from its JSON.
func jobNode(j *connecthub.Job) (*yaml.Node, error) {
	raw, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, name := range Fields() {
		var v any
		if name == "secret_cfg" {
			if len(j.SecretKeys) == 0 {
				continue
			}
			refs := make(map[string]any, len(j.SecretKeys))
			for _, k := range j.SecretKeys {
				refs[k] = "${" + SecretEnvName(j.ID, k) + "}"
			}
			v = refs
		} else {
			f, ok := fields[name]
			if !ok {
				continue
			}
			d := json.NewDecoder(bytes.NewReader(f))
			if err := d.Decode(&v); err != nil {
				return nil, fmt.Errorf("job %s: field %s: %w", j.ID, name, err)
			}
			if v == nil {
				continue // none (an empty list): left out, as it reads back
			}
		}
		var val yaml.Node
		if err := val.Encode(v); err != nil {
			return nil, fmt.Errorf("job %s: field %s: %w", j.ID, name, err)
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, &val)
	}
	return m, nil
}

// fireComment says when the job fires next.
func fireComment(j *connecthub.Job, now time.Time) string {
	head := "job " + j.ID
	switch {
	case j.CronExpr == "":
		return head + ": no cron_expr, runs only when started"
	case !j.Enabled:
		return head + ": disabled, does not fire"
	}
	var times []string
	t := now
	loc := j.Location()
	for range NextFires {
		next, err := j.NextFire(t)
		if err != nil || next == nil {
			break
		}
		times = append(times, next.In(loc).Format("2006-01-02 15:04:05 -07:00"))
		t = *next
	}
	if len(times) == 0 {
		return head + ": does not fire again"
	}
	c := head + ": next fires " + strings.Join(times, ", ")
	if j.Calendar != "" {
		c += "\n(before calendar " + j.Calendar + ", " + j.CalendarMode + ", which may skip some)"
	}
	return c
}
