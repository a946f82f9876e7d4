package pdftext

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func TestDebugDump(t *testing.T) {
	p := os.Getenv("PDFTEXT_DUMP")
	if p == "" {
		t.Skip("debugging aid, not a check: set PDFTEXT_DUMP=file.pdf to print its extracted text")
	}
	res, err := ExtractFile(context.Background(), p, Options{MaxPages: 3})
	fmt.Println("ERR:", err)
	if res != nil {
		fmt.Println(res.Text)
	}
}

func TestDebugGlyphs(t *testing.T) {
	p := os.Getenv("PDFTEXT_GLYPHS")
	if p == "" {
		t.Skip("debugging aid, not a check: set PDFTEXT_GLYPHS=file.pdf to print its placed glyphs")
	}
	data, _ := os.ReadFile(p)
	orig := debugHook
	debugHook = func(g []placed) {
		for _, x := range g {
			fmt.Printf("%q x=%.2f y=%.2f dx=%.2f size=%.2f font=%p\n", x.text, x.x, x.y, x.dx, x.size, x.font)
		}
	}
	defer func() { debugHook = orig }()
	Extract(context.Background(), data, Options{MaxPages: 1})
}

func TestDebugMissed(t *testing.T) {
	p := os.Getenv("PDFTEXT_MISSED")
	if p == "" {
		t.Skip("debugging aid, not a check: set PDFTEXT_MISSED=file.pdf to print the words pdftotext finds and we miss")
	}
	ref, err := exec.Command("pdftotext", "-l", "3", "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	res, err := ExtractFile(context.Background(), p, Options{MaxPages: 3})
	fmt.Println("ERR:", err)
	text := ""
	if res != nil {
		text = res.Text
	}
	r, n, missed := recall(text, string(ref))
	fmt.Printf("recall %.3f of %d words; missed %d distinct: %q\n", r, n, len(missed), missed[:min(len(missed), 80)])
	fmt.Printf("--- ours (first 1500 bytes)\n%s\n--- pdftotext (first 1500 bytes)\n%s\n", text[:min(len(text), 1500)], ref[:min(len(ref), 1500)])
}
