package events_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
)

func TestExportChainDetectsTampering(t *testing.T) {
	var buf bytes.Buffer
	x := events.NewExporter(&buf)
	for i, ev := range []events.Event{events.JobStarted{Total: 2}, events.JobPaused{Reason: "budget"}, events.DocumentTagged{Row: 1, Tags: []string{"water"}}} {
		env, err := events.New("job-1", events.User("u1", "a@example.com"), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq = uint64(i + 1)
		if err := x.Write(env); err != nil {
			t.Fatal(err)
		}
	}
	n, final, err := x.Close()
	if err != nil || n != 3 {
		t.Fatal(n, err)
	}
	if got, h, err := events.Verify(bytes.NewReader(buf.Bytes())); err != nil || got != 3 || h != final {
		t.Fatalf("verify untouched export: %d %s %v", got, h, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	cases := map[string]string{
		"edited reason": strings.Replace(buf.String(), `budget`, `BUDGET`, 1),
		"removed line":  lines[0] + "\n" + lines[2] + "\n",
		"reordered":     lines[1] + "\n" + lines[0] + "\n" + lines[2] + "\n",
		"edited actor":  strings.Replace(buf.String(), `a@example.com`, `b@example.com`, 1),
	}
	for name, tampered := range cases {
		if _, _, err := events.Verify(strings.NewReader(tampered)); err == nil {
			t.Errorf("%s: tampering not detected", name)
		}
	}
}
