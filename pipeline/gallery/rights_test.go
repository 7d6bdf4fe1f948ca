package gallery

import (
	"testing"

	"github.com/photodesk/photodesk/pipeline/contract"
)

func TestRightsFallBackFieldByField(t *testing.T) {
	photo := contract.Rights{Creator: contract.Names{"王五"}, AltText: "alt"}
	gal := contract.Rights{Creator: contract.Names{"张三", "李四"}, Credit: "工人日报", Location: &contract.Location{City: "北京"}}
	embedded := contract.Rights{Credit: "Agency", Source: "Agency pool", Location: &contract.Location{City: "Shanghai"}, Keywords: []string{"k"}}
	defaults := contract.Rights{Source: "工人日报", CopyrightNotice: "© {YYYY} 工人日报", Licensor: &contract.Licensor{}}
	r := photo.Or(gal).Or(embedded).Or(defaults)
	if r.Creator[0] != "王五" || len(r.Creator) != 1 || r.Credit != "工人日报" || r.Source != "Agency pool" ||
		r.Location.City != "北京" || r.Keywords[0] != "k" || r.CopyrightNotice != "© {YYYY} 工人日报" || r.AltText != "alt" {
		t.Errorf("resolved %+v", r)
	}
	if r.Licensor != nil && *r.Licensor != (contract.Licensor{}) {
		t.Errorf("licensor %+v", r.Licensor)
	}
}

func TestNoticeFillsItsFields(t *testing.T) {
	r := contract.Rights{Creator: contract.Names{"张三", "李四"}, CopyrightHolder: "工人日报社"}
	if got := Notice("© {YYYY} {holder} ({creator})", 2023, r); got != "© 2023 工人日报社 (张三、李四)" {
		t.Errorf("Notice = %q", got)
	}
	for tmpl, ok := range map[string]bool{"© {YYYY} 工人日报": true, "": true, "a } b": true, "© {year}": false, "{": false, "{{YYYY}}": false} {
		if err := CheckNoticeTemplate(tmpl); (err == nil) != ok {
			t.Errorf("CheckNoticeTemplate(%q) = %v", tmpl, err)
		}
	}
}
