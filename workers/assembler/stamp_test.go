package assembler

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// TestStampAllReadsTheOriginalsStoreOnlyToSign: a signed original's
// manifest store is read once for all of a figure's files, and not at all
// when every published copy is there already (a republish that changes
// nothing); an AVIF is published as rendered; every file linked, and only
// those, is marked published.
func TestStampAllReadsTheOriginalsStoreOnlyToSign(t *testing.T) {
	d, err := c2pa.DevIdentity(filepath.Join(t.TempDir(), "c2pa"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := c2pa.LoadSigner(d.Key, d.Chain, "photodesk", "test")
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{objects: map[string][]byte{"originals/g/a.jpg": []byte("not a manifest store, so published without the chain")}}
	r := &Role{Store: store, Signer: signer, OriginalsBucket: "originals"}
	figs := func() []stamped {
		var ds []contract.Derivative
		for _, p := range []string{"small", "large"} {
			key := "g/a.jpg/" + p + ".jpg"
			store.objects["derivatives/"+key] = tinyJPEG(t)
			ds = append(ds, contract.Derivative{Preset: p, Format: "jpeg", Bucket: "derivatives", Key: key, ContentType: "image/jpeg", Width: 16, Height: 8, ETag: "e" + p})
		}
		store.objects["derivatives/g/a.jpg/small.avif"] = []byte("an AVIF")
		ds = append(ds, contract.Derivative{Preset: "small", Format: "avif", Bucket: "derivatives", Key: "g/a.jpg/small.avif", ETag: "ea"})
		return []stamped{{
			derivs: ds, meta: stamp.Metadata{Caption: "开幕。"}, src: &contract.ImageSource{Format: "jpeg", Width: 16, Height: 8},
			prov:   &contract.Provenance{State: contract.ProvenanceTrusted, StoreStart: 2, StoreLength: 10},
			bucket: "originals", key: "g/a.jpg", etag: "eo",
		}}
	}
	first := figs()
	if err := r.stampAll(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	if store.ranges != 1 {
		t.Errorf("first publish read the original's store %d times, want once", store.ranges)
	}
	for _, d := range first[0].derivs[:2] {
		if _, ok := store.objects["derivatives/"+d.Key]; !ok || d.Key == "g/a.jpg/"+d.Preset+".jpg" {
			t.Errorf("%s: not published as a copy of its own", d.Key)
		}
	}
	if first[0].derivs[2].Key != "g/a.jpg/small.avif" {
		t.Errorf("the AVIF was rewritten as %s", first[0].derivs[2].Key)
	}
	// Everything linked is marked published; the unstamped copies not.
	for _, d := range first[0].derivs {
		if !store.published["derivatives/"+d.Key] {
			t.Errorf("%s is linked but not marked published", d.Key)
		}
	}
	if store.published["derivatives/g/a.jpg/large.jpg"] {
		t.Error("an unstamped derivative was marked published")
	}
	again := figs()
	if err := r.stampAll(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if store.ranges != 1 {
		t.Errorf("a republish with every copy in place read the original's store again (%d reads)", store.ranges)
	}
	for i := range again[0].derivs {
		if again[0].derivs[i].Key != first[0].derivs[i].Key {
			t.Errorf("republish: %s, first %s", again[0].derivs[i].Key, first[0].derivs[i].Key)
		}
	}
}
