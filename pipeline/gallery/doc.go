// Package gallery is the gallery read model: a gallery's state as every
// event of it folds in (kept by the assembler in the PHOTODESK_GALLERIES
// key-value bucket), its manifest, a reprocess run's bookkeeping, and what
// the gallery and each photo wait for. The assembler, the API, `photodesk
// status` and the chaos verifier all read a gallery through it. It holds
// no connections: standard library and pipeline/contract only.
package gallery
