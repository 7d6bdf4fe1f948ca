package assembler

import (
	"github.com/nats-io/nats.go"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// rerunStages are the photo stages a reprocess event is addressed to: the
// ones whose answers the gallery's run waits for.
func rerunStages(h nats.Header) []string {
	var out []string
	for _, st := range contract.PhotoStages() {
		if pipeline.ForRole(h, st.Name) {
			out = append(out, st.Name)
		}
	}
	return out
}
