package pdftext

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// childEnv marks the test binary started as an extraction child.
const childEnv = "PDFTEXT_BENCH_CHILD"

// TestChildExtract is the child side of BenchmarkChildProcess: with
// childEnv set it limits its own address space and CPU time, as a
// sandboxed extractor would, extracts stdin and prints the text length.
// Without it, it checks the measurement itself: the child's answer
// equals the in-process one.
func TestChildExtract(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		childMain()
		return
	}
	data := pdfgen.FormSelf()
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := runChild(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(len(res.Text)); out != want {
		t.Fatalf("child says %q, in-process %q", out, want)
	}
}

func childMain() {
	// 4 GiB of address space: the Go runtime reserves more than it uses.
	_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: 4 << 30, Max: 4 << 30})
	_ = syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: 60, Max: 60})
	data, _ := io.ReadAll(os.Stdin)
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		fmt.Print("error: ", err)
		os.Exit(0)
	}
	fmt.Print(len(res.Text))
	os.Exit(0)
}

// runChild runs one extraction in a fresh process of this test binary.
func runChild(data []byte) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildExtract$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	return string(out), err
}

// BenchmarkChildProcess compares extracting corpus files in-process with
// extracting each in a new child process (fork/exec of the same binary,
// OS limits set, the file over stdin). Numbers are in BENCHMARKS.md.
func BenchmarkChildProcess(b *testing.B) {
	for _, p := range corpusTextFiles(b) {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		name := filepath.Base(p)
		b.Run(name+"/in-process", func(b *testing.B) {
			for b.Loop() {
				if _, err := Extract(context.Background(), data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/child", func(b *testing.B) {
			for b.Loop() {
				if _, err := runChild(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
