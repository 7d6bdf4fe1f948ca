package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/assembler"
)

// chromiumPath is Debian's chromium, which make deps installs.
const chromiumPath = "/usr/bin/chromium"

// artifactDir is where browser tests leave screenshots: $PHOTODESK_ARTIFACTS,
// or .artifacts/ at the repository root.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PHOTODESK_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestUploadPageInChromium: in a real headless Chromium, sign in with a
// token, upload three photos, reorder them, caption one, give the
// gallery's credit and rights and one photo's alt text, a two-paragraph
// lead, a text block between two photos, a file photo, a caption kept as
// written and a publish time with an embargo, submit, and see "ready" and
// the preview, against the real servers; the stored gallery.json holds
// exactly what was given, and the record and preview have the lead, the
// text block between its photos and the file photo's label. Submits with
// a licensor URL that is not http(s), or a paragraph over the limit, show
// the API's reason on the page and store nothing.
func TestUploadPageInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium not found at %s (make deps installs Debian's chromium): %v", chromiumPath, err)
	}
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	base := startAPI(t, s.Config, "alice:photographer:"+aliceToken+",desk:newsroom:"+deskToken, apiFlags{maxUpload: 20 << 20}).base
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	dir := t.TempDir()
	var paths []string
	for i, name := range []string{"01-first.jpg", "02-second.jpg", "03-third.jpg"} {
		p := filepath.Join(dir, name)
		// Each taken on 28 July, so a caption gets that date unless the
		// photo says otherwise.
		b := photo(t, int64(i+1), &fixture.EXIF{DateTimeOriginal: "2026:07:28 1" + string(rune('0'+i)) + ":00:00"})
		if i == 1 { // one photo carries its own caption, which the page prefills
			var err error
			if b, err = fixture.WithAPP(b, 1, []byte(fixture.XMPHeader), fixture.XMPPacket("嵌入的说明", "王五")); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 1600),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	defer tcancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	do("sign in",
		// A fixed zone, so the publish time's offset is known.
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Shanghai"})
			return err
		}),
		chromedp.Navigate(base+"/"),
		chromedp.SendKeys(chromedp.ID("token"), aliceToken),
		chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.ID("compose")),
	)
	do("compose and upload",
		chromedp.SendKeys(chromedp.ID("gallery"), "web-1"),
		chromedp.SendKeys(chromedp.ID("headline"), "高清大图|网页上传"),
		chromedp.SendKeys(chromedp.ID("byline"), "张三 李四"),
		chromedp.SendKeys(chromedp.ID("lead"), "导语第一段。\n\n导语第二段。 "),
		chromedp.SetUploadFiles(chromedp.ID("files"), paths),
		chromedp.WaitVisible(chromedp.CSS(`#photos li:nth-child(3)`)),
		chromedp.WaitEnabled(chromedp.ID("submit")),
	)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelectorAll('#photos progress').length === 3 && [...document.querySelectorAll('#photos progress')].every(p => p.value === 100)`)); err != nil {
		t.Fatalf("uploads did not all reach 100%%: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelector('#photos li[data-name="02-second.jpg"] textarea').value === '嵌入的说明'`)); err != nil {
		t.Fatalf("the embedded caption was not prefilled: %v", err)
	}
	// A photo's alt text and photographer are prefilled from the rights
	// its exif result reports (fed to the page's event handler here, as
	// the exif role will send them), and only from well-formed ones.
	prefill := `onEvent("photo.exif", {photo: "01-first.jpg", exif: {rights: {alt_text: 5, creator: {name: "x"}}}});
		onEvent("photo.exif", {photo: "01-first.jpg", exif: {rights: null}});
		onEvent("photo.exif", {photo: "03-third.jpg", exif: {rights: {alt_text: "嵌入的替代文字", creator: ["赵六", "钱七"]}}});
		const v = (n, c) => document.querySelector('#photos li[data-name="' + n + '"] .' + c).value;
		[v("01-first.jpg", "alt"), v("01-first.jpg", "photographer"), v("03-third.jpg", "alt"), v("03-third.jpg", "photographer")]`
	got, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](prefill))
	if err != nil || !slices.Equal(got, []string{"", "", "嵌入的替代文字", "赵六、钱七"}) {
		t.Errorf("prefilled alt text and photographer: %q (%v)", got, err)
	}
	// What the original's Content Credentials are shows on its line.
	prov := `onEvent("photo.exif", {photo: "02-second.jpg", exif: {provenance: {state: "invalid", codes: ["assertion.dataHash.mismatch"]}}});
		onEvent("photo.exif", {photo: "03-third.jpg", exif: {provenance: {state: "trusted", signer: "Reuters"}}});
		const st = (n) => document.querySelector('#photos li[data-name="' + n + '"] .stage').textContent;
		[st("02-second.jpg"), st("03-third.jpg")]`
	lines, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](prov))
	if err != nil || len(lines) != 2 || !strings.Contains(lines[0], "Content Credentials INVALID (assertion.dataHash.mismatch)") ||
		!strings.Contains(lines[1], "Content Credentials ✓, signed by Reuters") {
		t.Errorf("provenance on the photos' lines: %q (%v)", lines, err)
	}
	do("credit and rights",
		chromedp.Click(chromedp.CSS(`#rights summary`)),
		chromedp.SendKeys(chromedp.ID("r-credit"), "工人日报"),
		chromedp.SendKeys(chromedp.ID("r-notice"), "© {YYYY} {holder}"),
		chromedp.SendKeys(chromedp.ID("r-holder"), "工人日报社"),
		chromedp.SendKeys(chromedp.ID("r-usage"), "未经授权不得转载。"),
		chromedp.SendKeys(chromedp.ID("r-web"), "https://example.org/rights"),
		chromedp.SendKeys(chromedp.ID("r-licensor-name"), "工人日报图片部"),
		chromedp.SendKeys(chromedp.ID("r-licensor-url"), "https://example.org/licence"),
		chromedp.SendKeys(chromedp.ID("r-keywords"), "大国工匠, 展会、创新 ,"),
		chromedp.SendKeys(chromedp.ID("r-city"), "北京"),
		chromedp.SendKeys(chromedp.ID("r-country"), "中国"),
		chromedp.SendKeys(chromedp.ID("r-country-code"), "CN"),
		chromedp.SendKeys(chromedp.CSS(`#photos li[data-name="01-first.jpg"] .alt`), "展台前的观众"),
	)
	// The third photo goes first: up twice; then a caption and submit.
	do("reorder and submit",
		chromedp.Click(chromedp.CSS(`#photos li[data-name="03-third.jpg"] .up`)),
		chromedp.Click(chromedp.CSS(`#photos li[data-name="03-third.jpg"] .up`)),
		chromedp.SendKeys(chromedp.CSS(`#photos li[data-name="03-third.jpg"] textarea`), "第三张放在最前"),
	)
	// A text block under the first photo takes the keyboard at once.
	do("text block", chromedp.Click(chromedp.CSS(`#photos li[data-name="03-third.jpg"] .add-text`)))
	if focused, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector('#photos li.text textarea') && document.querySelector('#photos li.text').previousElementSibling.dataset.name === "03-third.jpg"`)); err != nil || !focused {
		t.Errorf("the new text block is not under 03-third.jpg with the focus (%v)", err)
	}
	// The embargo needs a publish time: off without one, and cleared
	// when the time is.
	schedule := `const at = document.getElementById("publish-at"), em = document.getElementById("embargo");
		const set = (v) => { at.value = v; at.dispatchEvent(new Event("input", {bubbles: true})); };
		const seen = [em.disabled];
		set("2025-01-02T03:04"); seen.push(em.disabled); em.click(); seen.push(em.checked);
		set(""); seen.push(em.disabled, em.checked);
		set("2025-01-02T03:04"); em.click(); seen.push(em.checked);
		seen`
	if seen, err := chromedp.Run(bctx, chromedp.Evaluate[[]bool](schedule)); err != nil || !slices.Equal(seen, []bool{true, false, true, true, false, true}) {
		t.Errorf("embargo box (disabled, enabled, checked, disabled and cleared, checked again): %v (%v)", seen, err)
	}
	do("blocks and submit",
		chromedp.SendKeys(chromedp.CSS(`#photos li.text textarea`), "两张照片之间的文字。"),
		chromedp.Click(chromedp.CSS(`#photos li[data-name="01-first.jpg"] .file-photo`)),
		chromedp.Click(chromedp.CSS(`#photos li[data-name="02-second.jpg"] .as-written`)),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS("#state.ready")),
		chromedp.WaitVisible(chromedp.ID("preview")),
	)
	state, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("state")))
	if err != nil {
		t.Fatal(err)
	}
	srcdoc, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.ID("preview"), "srcdoc"))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifactDir(t), "upload-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	if !strings.Contains(state, "Article ready (version 1)") || !strings.Contains(srcdoc.Value, "第三张放在最前") || !strings.Contains(srcdoc.Value, "嵌入的说明") || !strings.Contains(srcdoc.Value, "来源:工人日报 张三 李四") ||
		!strings.Contains(srcdoc.Value, `alt="展台前的观众"`) {
		t.Errorf("state %q; preview has caption %v, credits %v, alt text %v", state, strings.Contains(srcdoc.Value, "第三张放在最前"), strings.Contains(srcdoc.Value, "来源:工人日报 张三 李四"), strings.Contains(srcdoc.Value, `alt="展台前的观众"`))
	}
	// gallery.json as stored holds exactly the fields given: no empty
	// province, no rights for a photo given none.
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	stored := getObject(t, store, s.Config.OriginalsBucket, "web-1/gallery.json")
	var m struct {
		Rights any `json:"rights"`
		Photos []struct {
			File   string `json:"file"`
			Rights any    `json:"rights"`
			Text   any    `json:"text"`
		} `json:"photos"`
	}
	if err := json.Unmarshal(stored, &m); err != nil {
		t.Fatalf("stored gallery.json: %v\n%s", err, stored)
	}
	wantRights := jsonValue(t, `{"credit": "工人日报", "copyright_notice": "© {YYYY} {holder}", "copyright_holder": "工人日报社",
		"usage_terms": "未经授权不得转载。", "web_statement": "https://example.org/rights",
		"licensor": {"name": "工人日报图片部", "url": "https://example.org/licence"}, "keywords": ["大国工匠", "展会", "创新"],
		"location": {"city": "北京", "country": "中国", "country_code": "CN"}}`)
	if !reflect.DeepEqual(m.Rights, wantRights) {
		t.Errorf("stored gallery rights %v, want %v", m.Rights, wantRights)
	}
	wantPhotos := map[string][]any{
		"03-third.jpg": {jsonValue(t, `{"creator": ["赵六", "钱七"], "alt_text": "嵌入的替代文字"}`)},
		"01-first.jpg": {jsonValue(t, `{"alt_text": "展台前的观众"}`)},
		// No rights, or, once the exif role reports embedded rights, its
		// creator (XMP dc:creator) prefilled.
		"02-second.jpg": {nil, jsonValue(t, `{"creator": ["王五"]}`)},
	}
	if len(m.Photos) != 4 || m.Photos[1].File != "" || m.Photos[1].Text != "两张照片之间的文字。" {
		t.Fatalf("stored gallery.json lists %d blocks, want 3 photos and a text block second:\n%s", len(m.Photos), stored)
	}
	for i, p := range slices.Delete(slices.Clone(m.Photos), 1, 2) {
		if p.File != []string{"03-third.jpg", "01-first.jpg", "02-second.jpg"}[i] || !slices.ContainsFunc(wantPhotos[p.File], func(w any) bool { return reflect.DeepEqual(p.Rights, w) }) {
			t.Errorf("stored photo %d: %s with rights %v, want one of %v", i+1, p.File, p.Rights, wantPhotos[p.File])
		}
	}

	// The lead, the schedule and the marks, each as gallery.json says
	// them; no pubstatus (usable is the default), and a photo not marked
	// says nothing.
	var whole map[string]any
	if err := json.Unmarshal(stored, &whole); err != nil {
		t.Fatal(err)
	}
	// No focal point either: none was chosen.
	marks := func(i int) any {
		p := whole["photos"].([]any)[i].(map[string]any)
		return []any{p["file_photo"], p["date"], p["focus"]}
	}
	if !reflect.DeepEqual(whole["lead"], []any{"导语第一段。", "导语第二段。"}) || whole["publish_at"] != "2025-01-02T03:04:00+08:00" || whole["embargo"] != true ||
		whole["pubstatus"] != nil || !reflect.DeepEqual(marks(0), []any{nil, nil, nil}) || !reflect.DeepEqual(marks(2), []any{true, nil, nil}) || !reflect.DeepEqual(marks(3), []any{nil, false, nil}) {
		t.Errorf("stored gallery.json: lead %v, publish_at %v, embargo %v, pubstatus %v, file_photo, date and focus %v %v %v:\n%s",
			whole["lead"], whole["publish_at"], whole["embargo"], whole["pubstatus"], marks(0), marks(2), marks(3), stored)
	}
	// The record and the preview, block by block: the lead, the text block
	// between its two photos, the file photo's label with no date, the
	// caption kept as written.
	var recJSON strings.Builder
	if err := printArticle(ctx, &recJSON, s.Config, "web-1", false); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Descriptions []struct{ Role, Value string }
		Bodies       []struct{ Value string }
		Associations []struct{ URI string }
	}
	if err := json.Unmarshal([]byte(recJSON.String()), &rec); err != nil || len(rec.Bodies) != 1 {
		t.Fatalf("record: %v\n%s", err, recJSON.String())
	}
	if len(rec.Descriptions) != 1 || rec.Descriptions[0].Role != "lead" || rec.Descriptions[0].Value != "导语第一段。\n\n导语第二段。" {
		t.Errorf("record's descriptions %+v, want the lead", rec.Descriptions)
	}
	want := "lead 导语第一段。|lead 导语第二段。|figure 7月28日,第三张放在最前|text 两张照片之间的文字。|figure (资料图)|figure 嵌入的说明|credits 来源:工人日报 张三 李四"
	for name, doc := range map[string]string{"record body": rec.Bodies[0].Value, "preview": srcdoc.Value} {
		if got := strings.Join(outline(doc), "|"); got != want {
			t.Errorf("%s's blocks:\n%s\nwant:\n%s", name, got, want)
		}
	}

	// A licensor URL that is not http(s): the page shows the API's reason,
	// and the stored gallery.json stays as it was.
	do("bad licensor URL",
		chromedp.SetValue(chromedp.ID("r-licensor-url"), "ftp://example.org/licence"),
		chromedp.Click(chromedp.ID("submit")),
	)
	const reason = `gallery.json: rights of the gallery: "licensor" url: "ftp://example.org/licence" is not an http(s) URL`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("compose-error").textContent !== ""`)); err != nil {
		t.Fatalf("no refusal shown: %v", err)
	}
	shown, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("compose-error")))
	if err != nil || shown != reason {
		t.Errorf("the page shows %q (%v), want %q", shown, err, reason)
	}
	if again := getObject(t, store, s.Config.OriginalsBucket, "web-1/gallery.json"); !bytes.Equal(again, stored) {
		t.Errorf("a refused gallery.json replaced the stored one:\n%s", again)
	}
	// A paragraph over the limit in the text block: refused with the
	// reason, not cut, and the keyboard is put in that block.
	do("paragraph over the limit",
		chromedp.SetValue(chromedp.ID("r-licensor-url"), "https://example.org/licence"),
		chromedp.SetValue(chromedp.CSS(`#photos li.text textarea`), strings.Repeat("长", 5001)),
		chromedp.Click(chromedp.ID("submit")),
	)
	const tooLong = `gallery.json: paragraph 1 of entry 2 of "photos" (a text block) is 5001 characters; the limit is 5000 (split it into paragraphs)`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("compose-error").textContent.includes("5001")`)); err != nil {
		t.Fatalf("no refusal of the long paragraph shown: %v", err)
	}
	shown, err = chromedp.Run(bctx, chromedp.Text(chromedp.ID("compose-error")))
	if err != nil || shown != tooLong {
		t.Errorf("the page shows %q (%v), want %q", shown, err, tooLong)
	}
	if focused, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector('#photos li.text textarea')`)); err != nil || !focused {
		t.Errorf("the refused text block does not have the focus (%v)", err)
	}
	if again := getObject(t, store, s.Config.OriginalsBucket, "web-1/gallery.json"); !bytes.Equal(again, stored) {
		t.Errorf("a refused gallery.json replaced the stored one:\n%s", again)
	}
	// The record has the browser's order.
	if len(rec.Associations) != 3 ||
		!strings.Contains(rec.Associations[0].URI, "/03-third.jpg@") || !strings.Contains(rec.Associations[1].URI, "/01-first.jpg@") {
		t.Errorf("record order: %+v", rec.Associations)
	}

	// The focal-point picker on every picture, tried on one row: a click sets the point where the
	// picture is clicked, the arrow keys move it, Delete clears it, and the
	// dot follows.
	// (Each script a function of its own: top-level names would meet in
	// the page's global scope.)
	where := `(() => { if (!document.querySelector('#photos li[data-name="01-first.jpg"] .pic.focusable')) throw new Error("the picker is off");
		const img = byName("01-first.jpg").img; img.scrollIntoView({block: "center"});
		const r = img.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`
	box, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](where))
	if err != nil || len(box) != 4 {
		t.Fatalf("focal-point picker: %v", err)
	}
	// The whole 320×213 picture is shown, centred in its box: the point a
	// quarter across and three quarters down is here.
	k := min(box[2]/320, box[3]/213)
	xy := []float64{box[0] + (box[2]-320*k)/2 + 0.25*320*k, box[1] + (box[3]-213*k)/2 + 0.75*213*k}
	point := `(() => { const it = byName("01-first.jpg"), f = it.focus || {x: -1, y: -1}, b = drawn(it.img), d = it.img.parentNode.querySelector(".dot").getBoundingClientRect();
		return [f.x, f.y, d.left + d.width / 2 - (b.left + f.x * b.width), d.top + d.height / 2 - (b.top + f.y * b.height)]; })()`
	near := func(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }
	do("focal point: click", chromedp.MouseClickXY(xy[0], xy[1]))
	clicked, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](point))
	if err != nil {
		t.Fatalf("focal point: %v", err)
	}
	if !near(clicked[0], 0.25, 0.03) || !near(clicked[1], 0.75, 0.03) || !near(clicked[2], 0, 1.5) || !near(clicked[3], 0, 1.5) {
		t.Errorf("focal point after a click at (0.25, 0.75): %v, the dot off by (%v) px", clicked[:2], clicked[2:])
	}
	do("focal point: arrows", chromedp.Focus(chromedp.CSS(`#photos li[data-name="01-first.jpg"] .pic`)), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowUp))
	moved, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](point))
	if err != nil {
		t.Fatalf("focal point: %v", err)
	}
	if !near(moved[0], clicked[0]+0.05, 0.0015) || !near(moved[1], clicked[1]-0.05, 0.0015) || !near(moved[2], 0, 1.5) || !near(moved[3], 0, 1.5) {
		t.Errorf("focal point after → ↑ from %v: %v, the dot off by (%v) px", clicked[:2], moved[:2], moved[2:])
	}
	// Submitted, the point is the photo's focus in gallery.json, and the
	// new version's crops of the photo are made around it.
	do("focal point: submit",
		chromedp.SetValue(chromedp.CSS(`#photos li.text textarea`), "两张照片之间的文字。"),
		chromedp.Click(chromedp.ID("submit")),
	)
	var focus struct{ X, Y float64 }
	deadline := time.Now().Add(10 * time.Second)
	for focus.X == 0 && time.Now().Before(deadline) {
		var m struct {
			Photos []struct {
				File  string
				Focus *struct{ X, Y float64 }
			}
		}
		_ = json.Unmarshal(getObject(t, store, s.Config.OriginalsBucket, "web-1/gallery.json"), &m)
		for _, p := range m.Photos {
			if p.File == "01-first.jpg" && p.Focus != nil {
				focus = *p.Focus
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !near(focus.X, moved[0], 0.0015) || !near(focus.Y, moved[1], 0.0015) {
		t.Fatalf("stored focus of 01-first.jpg %+v, want the page's %v", focus, moved[:2])
	}
	evs := articleEvents(t, s.Config, "web-1", 2, 90*time.Second)
	var rec2 assembler.Ninjs
	if err := json.Unmarshal(evs[len(evs)-1].Record, &rec2); err != nil {
		t.Fatal(err)
	}
	wantCrop := fmt.Sprintf("centred on %s,%s (focal point in gallery.json)", strconv.FormatFloat(focus.X, 'f', -1, 64), strconv.FormatFloat(focus.Y, 'f', -1, 64))
	for _, a := range rec2.Associations {
		if !strings.Contains(a.URI, "/01-first.jpg@") {
			continue
		}
		for _, r := range a.Renditions {
			if strings.HasPrefix(r.Name, "crop") && !strings.Contains(r.Title, wantCrop) {
				t.Errorf("version %d: 01-first.jpg's %s is %q, want it %s", len(evs), r.Name, r.Title, wantCrop)
			}
		}
	}
	do("focal point: delete", chromedp.Focus(chromedp.CSS(`#photos li[data-name="01-first.jpg"] .pic`)), chromedp.KeyEvent(kb.Delete))
	if cleared, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`byName("01-first.jpg").focus === undefined && document.querySelector(".pic .dot").hidden`)); err != nil || !cleared {
		t.Errorf("Delete did not clear the focal point (%v)", err)
	}

	// A phone-sized screen: nothing wider than the screen.
	do("phone", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("compose")))
	scroll, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if png, err = chromedp.Run(bctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(artifactDir(t), "upload-page-phone.png"), png, 0o644)
	}
	if scroll > 390 {
		t.Errorf("on a 390 px screen the page is %d px wide", scroll)
	}
	// And with the credit and rights open.
	do("phone, rights open", chromedp.Click(chromedp.CSS(`#rights summary`)), chromedp.WaitVisible(chromedp.ID("r-country-code")))
	if scroll, err = chromedp.Run(bctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil {
		t.Fatal(err)
	}
	if png, err = chromedp.Run(bctx, chromedp.FullScreenshot(80)); err == nil {
		_ = os.WriteFile(filepath.Join(artifactDir(t), "upload-page-phone-rights.png"), png, 0o644)
	}
	if scroll > 390 {
		t.Errorf("on a 390 px screen with the credit and rights open the page is %d px wide", scroll)
	}
}

// outline is an article's blocks as the preview and the record's body
// write them: each paragraph with its class, each figure with its caption.
func outline(doc string) []string {
	var out []string
	for _, m := range blockRE.FindAllStringSubmatch(doc, -1) {
		if m[1] != "" {
			out = append(out, m[1]+" "+m[2])
		} else {
			out = append(out, "figure "+html.UnescapeString(m[3]))
		}
	}
	return out
}

var blockRE = regexp.MustCompile(`<p class="(lead|text|credits)">([^<]*)</p>|<figure><img [^>]*><figcaption>([^<]*)</figcaption>`)

// jsonValue is a JSON text decoded as encoding/json decodes into any.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
