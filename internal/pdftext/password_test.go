package pdftext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// TestPasswordProtectedEveryRevision: a file that needs a user password
// is reported as password protected (not as damaged) for each encryption
// pdfcpu writes: RC4 40 and 128 bit, AES 128 and 256 bit; the same file
// with an empty user password opens.
func TestPasswordProtectedEveryRevision(t *testing.T) {
	src, err := os.ReadFile(corpusFile(t, "circular-water.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	api.DisableConfigDir()
	for _, c := range []struct {
		aes bool
		key int
	}{{false, 40}, {false, 128}, {true, 128}, {true, 256}} {
		for _, user := range []string{"secret", ""} {
			name := fmt.Sprintf("aes=%v key=%d user=%q", c.aes, c.key, user)
			conf := model.NewRC4Configuration(user, "owner", c.key)
			if c.aes {
				conf = model.NewAESConfiguration(user, "owner", c.key)
			}
			var enc bytes.Buffer
			if err := api.Encrypt(bytes.NewReader(src), &enc, conf); err != nil {
				t.Fatalf("%s: encrypting: %v", name, err)
			}
			res, err := Extract(context.Background(), enc.Bytes(), Options{})
			if user == "" {
				if err != nil || !strings.Contains(res.Text, "water") {
					t.Errorf("%s: should open without a password: %v", name, err)
				}
				continue
			}
			if !errors.Is(err, ErrPasswordProtected) || errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: got %v, want %v", name, err, ErrPasswordProtected)
			}
		}
	}
}
