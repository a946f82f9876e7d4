package main

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "0": 0, "off": 0, "400MiB": 400 << 20, "2GiB": 2 << 30, "512": 512, "64KiB": 64 << 10} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"lots", "-5", "12MB", "1.5GiB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}

func TestExtractMemoryIsValidatedAtStartup(t *testing.T) {
	c := config{Workers: 8, MaxDocuments: 10, ExportRows: 10, ExtractMemory: "lots"}
	if err := c.validate(); err == nil {
		t.Fatal("TAGSTREAM_EXTRACT_MEMORY=lots accepted")
	}
	for _, ok := range []string{"256MiB", "off", ""} {
		c.ExtractMemory = ok
		if err := c.validate(); err != nil {
			t.Fatalf("TAGSTREAM_EXTRACT_MEMORY=%q refused: %v", ok, err)
		}
	}
}
