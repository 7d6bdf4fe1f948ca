package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline/devstack"
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
// token, upload three photos, reorder them, caption one, submit, and see
// "ready" and the preview, against the real servers.
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
		b := photo(t, int64(i+1), nil)
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
		chromedp.Navigate(base+"/"),
		chromedp.SendKeys(chromedp.ID("token"), aliceToken),
		chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.ID("compose")),
	)
	do("compose and upload",
		chromedp.SendKeys(chromedp.ID("gallery"), "web-1"),
		chromedp.SendKeys(chromedp.ID("headline"), "高清大图|网页上传"),
		chromedp.SendKeys(chromedp.ID("byline"), "张三 李四"),
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
	// The third photo goes first: up twice; then a caption and submit.
	do("reorder and submit",
		chromedp.Click(chromedp.CSS(`#photos li[data-name="03-third.jpg"] .up`)),
		chromedp.Click(chromedp.CSS(`#photos li[data-name="03-third.jpg"] .up`)),
		chromedp.SendKeys(chromedp.CSS(`#photos li[data-name="03-third.jpg"] textarea`), "第三张放在最前"),
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
	if !strings.Contains(state, "Article ready (version 1)") || !strings.Contains(srcdoc.Value, "第三张放在最前") || !strings.Contains(srcdoc.Value, "嵌入的说明") || !strings.Contains(srcdoc.Value, "来源:工人日报 张三 李四") {
		t.Errorf("state %q; preview has caption %v, credits %v", state, strings.Contains(srcdoc.Value, "第三张放在最前"), strings.Contains(srcdoc.Value, "来源:工人日报 张三 李四"))
	}
	// The record has the browser's order.
	var out strings.Builder
	if err := printArticle(ctx, &out, s.Config, "web-1", false); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Associations []struct{ URI string } `json:"associations"`
	}
	if err := json.Unmarshal([]byte(out.String()), &rec); err != nil || len(rec.Associations) != 3 ||
		!strings.Contains(rec.Associations[0].URI, "/03-third.jpg@") || !strings.Contains(rec.Associations[1].URI, "/01-first.jpg@") {
		t.Errorf("record order: %+v (%v)", rec.Associations, err)
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
}
