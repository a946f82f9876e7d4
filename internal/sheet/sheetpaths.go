package sheet

import (
	"archive/zip"
	"path"
	"strings"
)

// worksheetParts names the parts excelize reads as worksheets: every
// xl/worksheets/*.xml, and wherever the workbook's relationships point a
// worksheet, resolved as excelize resolves them (relative to the workbook
// part named by _rels/.rels, or absolute). A workbook keeping its sheet
// elsewhere (Target="../data/s.xml") was read by excelize but never
// scanned here, so the budgets above did not apply to it.
func worksheetParts(z *zip.Reader, lim Limits) (map[string]bool, error) {
	parts := map[string]bool{}
	files := map[string]*zip.File{}
	for _, f := range z.File {
		files[f.Name] = f
		if strings.HasPrefix(f.Name, "xl/worksheets/") && strings.HasSuffix(f.Name, ".xml") {
			parts[f.Name] = true
		}
	}
	workbook := "xl/workbook.xml"
	if rels, err := readRels(files["_rels/.rels"], lim); err != nil {
		return nil, err
	} else {
		for _, r := range rels {
			if strings.HasSuffix(r.Type, "/officeDocument") {
				workbook = strings.TrimPrefix(r.Target, "/")
				break
			}
		}
	}
	dir := path.Dir(workbook)
	relsPath := strings.TrimPrefix(dir+"/_rels/"+path.Base(workbook)+".rels", "./")
	rels, err := readRels(files[relsPath], lim)
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if !strings.HasSuffix(r.Type, "/worksheet") {
			continue
		}
		target := strings.ReplaceAll(r.Target, "\\", "/")
		p := strings.TrimPrefix(path.Clean(dir+"/"+target), "/")
		if strings.HasPrefix(target, "/") {
			p = strings.TrimPrefix(path.Clean(target), "/")
		}
		if files[p] != nil {
			parts[p] = true
		}
	}
	return parts, nil
}

type relationship struct {
	Type   string `xml:"Type,attr"`
	Target string `xml:"Target,attr"`
}

// readRels reads a relationships part (nil: none), within the inflate
// bound like every other part.
func readRels(f *zip.File, lim Limits) ([]relationship, error) {
	if f == nil {
		return nil, nil
	}
	rc, d, err := open(f, lim)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out struct {
		Rels []relationship `xml:"Relationship"`
	}
	if err := d.Decode(&out); err != nil {
		return nil, scanError(f, err, 0, "", lim)
	}
	return out.Rels, nil
}
