// verify.mjs FILE MIME [ANCHORS_PEM [TSA_ANCHORS_PEM]] prints one JSON
// line: what the C2PA reference implementation (c2pa-rs as WebAssembly)
// says of FILE, trusting the signers ANCHORS_PEM issues and the
// time-stamp authorities TSA_ANCHORS_PEM issues (c2pa-rs keeps the two
// lists apart; without the second, time-stamps are trusted by its own
// list of authorities, as a reader in the field does). The
// tests call it as the outside judge of photodesk's Content Credentials;
// a file without a manifest prints {"state":"None","error":"JumbfNotFound…"}.
import { readFileSync as rd } from 'node:fs';
import { createRequire } from 'node:module';
import { initSync, WasmReader } from '@contentauth/c2pa-wasm';

initSync({ module: rd(createRequire(import.meta.url).resolve('@contentauth/c2pa-wasm/c2pa.wasm')) });
const [file, mime, anchors, tsaAnchors] = process.argv.slice(2);
let settings = anchors && JSON.stringify({ trust: { trust_anchors: rd(anchors, 'utf8') } });
if (tsaAnchors) {
  const lists = [{ trust_kind: 'tsa', trust_anchors: rd(tsaAnchors, 'utf8') }];
  if (anchors) lists.push({ trust_kind: 'manifest', trust_anchors: rd(anchors, 'utf8') });
  settings = JSON.stringify({ trust: { anchors: lists } });
}
let reader;
try {
  reader = await WasmReader.fromBytes(mime, new Uint8Array(rd(file)), settings);
} catch (e) {
  console.log(JSON.stringify({ state: 'None', error: String(e && (e.message || e)) }));
  process.exit(0);
}
const store = JSON.parse(reader.json());
const cr = JSON.parse(reader.crJson());
const m = store.manifests[store.active_manifest];
const crActive = (cr.manifests || []).find((x) => x.label === store.active_manifest) || {};
const crLabels = Object.keys(crActive.assertions || {});
console.log(JSON.stringify({
  state: store.validation_state,
  status: (store.validation_status || []).map((s) => s.code),
  results: store.validation_results,
  active: store.active_manifest,
  manifests: Object.keys(store.manifests),
  generator: m.claim_generator_info,
  title: m.title,
  format: m.format,
  assertions: m.assertions.map((a) => a.label),
  bindings: crLabels.filter((l) => l.startsWith('c2pa.hash')),
  actions: (m.assertions.find((a) => a.label.startsWith('c2pa.actions')) || {}).data,
  creative: (m.assertions.find((a) => a.label === 'stds.schema-org.CreativeWork') || {}).data,
  ingredients: (m.ingredients || []).map((i) => ({ title: i.title, relationship: i.relationship, active_manifest: i.active_manifest, format: i.format, validation: i.validation_results })),
  signature: m.signature_info,
}));
