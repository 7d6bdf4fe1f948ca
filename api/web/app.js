// photodesk upload page: sign in with a token, drop photos (each uploaded
// at once with its own progress bar), caption and order them with text
// blocks between them, give the lead, the credit and rights fields and the
// schedule, submit the manifest, then follow every photo's stages live
// until the article is ready. Plain JS, no dependencies; the API does
// every check.
"use strict";

const $ = (id) => document.getElementById(id);
// focusPoints turns on choosing each photo's focal point (gallery.json
// "focus", the point its crops keep in frame) by clicking its picture.
const focusPoints = true;

const state = { token: sessionStorage.getItem("photodesk-token") || "", gallery: "", created: false, items: [], uploading: 0, following: false };

function api(method, path, body, headers) {
  return fetch(path, { method, body, headers: Object.assign({ Authorization: "Bearer " + state.token }, headers || {}) });
}

async function errorText(resp) {
  try { const j = await resp.json(); return j.error ? j.error.message : resp.statusText; } catch (e) { return resp.statusText; }
}

async function signIn(token) {
  state.token = token;
  const resp = await api("GET", "/v1/galleries");
  if (!resp.ok) { $("login-error").textContent = await errorText(resp); return; }
  sessionStorage.setItem("photodesk-token", token);
  $("login").hidden = true;
  $("compose").hidden = false;
}

async function ensureGallery() {
  const id = $("gallery").value.trim();
  if (state.created) return true;
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(id)) { $("compose-error").textContent = "Choose a gallery id first: lower-case letters, digits and hyphens."; return false; }
  const resp = await api("POST", "/v1/galleries", JSON.stringify({ id }), { "Content-Type": "application/json" });
  if (!resp.ok && resp.status !== 409) { $("compose-error").textContent = await errorText(resp); return false; }
  state.gallery = id; state.created = true;
  $("gallery").disabled = true;
  $("compose-error").textContent = "";
  follow();
  return true;
}

function addFiles(files) {
  ensureGallery().then((ok) => { if (ok) for (const f of files) addFile(f); });
}

function addFile(file) {
  const li = document.createElement("li");
  const pic = document.createElement("div"); pic.className = "pic";
  const img = document.createElement("img");
  img.src = URL.createObjectURL(file); img.alt = "";
  pic.append(img);
  const mid = document.createElement("div");
  const name = document.createElement("div"); name.className = "name"; name.textContent = file.name;
  const bar = document.createElement("progress"); bar.max = 100; bar.value = 0;
  const stage = document.createElement("div"); stage.className = "stage"; stage.textContent = "uploading…";
  const caption = document.createElement("textarea"); caption.placeholder = "图片说明 caption"; caption.setAttribute("aria-label", "caption of " + file.name);
  const meta = document.createElement("div"); meta.className = "meta";
  const alt = document.createElement("input"); alt.className = "alt"; alt.placeholder = "图片替代文字 alt text"; alt.setAttribute("aria-label", "alt text of " + file.name);
  const by = document.createElement("input"); by.className = "photographer"; by.placeholder = "摄影 photographer (optional)"; by.setAttribute("aria-label", "photographer of " + file.name);
  meta.append(alt, by);
  const flags = document.createElement("div"); flags.className = "flags";
  const filePhoto = checkbox("file-photo", "资料图 File photo", file.name);
  const asWritten = checkbox("as-written", "原样 As written, no date", file.name);
  flags.append(filePhoto.label, asWritten.label);
  mid.append(name, bar, stage, caption, meta, flags);
  const add = button("+ 文字 Text below", "add-text", "add a text block below " + file.name);
  add.onclick = () => addText(li);
  li.append(pic, mid, moveButtons(li, file.name, add));
  li.dataset.name = file.name;
  $("photos").append(li);
  const item = { name: file.name, li, img, bar, stage, caption, alt, by, filePhoto: filePhoto.box, asWritten: asWritten.box, uploaded: false, failed: false, stages: {} };
  state.items.push(item);
  if (focusPoints) focusPicker(item);
  upload(item, file);
}

// focusPicker lets a row's picture choose the photo's focal point: a click
// puts it there, the arrow keys move it by 5 %, Delete clears it; a dot
// shows it. The whole picture is shown (contain), so the point is where
// the photographer sees it.
function focusPicker(item) {
  const pic = item.img.parentNode;
  const dot = document.createElement("span"); dot.className = "dot"; dot.hidden = true;
  pic.append(dot);
  pic.classList.add("focusable"); pic.tabIndex = 0; pic.setAttribute("role", "button");
  pic.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight ArrowUp ArrowDown Delete");
  const show = () => {
    const f = item.focus;
    dot.hidden = !f;
    pic.setAttribute("aria-label", "focal point of " + item.name + ": " +
      (f ? Math.round(100 * f.x) + "% across, " + Math.round(100 * f.y) + "% down" : "not set; click the picture or use the arrow keys"));
    if (!f) return;
    const b = drawn(item.img), r = pic.getBoundingClientRect();
    dot.style.left = (b.left - r.left + f.x * b.width) + "px";
    dot.style.top = (b.top - r.top + f.y * b.height) + "px";
  };
  const set = (x, y) => {
    const c = (v) => Math.round(1000 * Math.min(1, Math.max(0, v))) / 1000;
    item.focus = { x: c(x), y: c(y) };
    show();
  };
  pic.addEventListener("click", (e) => {
    const b = drawn(item.img);
    set((e.clientX - b.left) / b.width, (e.clientY - b.top) / b.height);
  });
  pic.addEventListener("keydown", (e) => {
    const f = item.focus || { x: 0.5, y: 0.5 };
    const step = { ArrowLeft: [-0.05, 0], ArrowRight: [0.05, 0], ArrowUp: [0, -0.05], ArrowDown: [0, 0.05] }[e.key];
    if (step) set(f.x + step[0], f.y + step[1]);
    else if (e.key === "Delete" || e.key === "Backspace") { item.focus = undefined; show(); }
    else return;
    e.preventDefault(); // the arrows move the point, not the page
  });
  show();
}

// drawn is where img draws its picture in the page (object-fit: contain
// leaves bands at two sides).
function drawn(img) {
  const r = img.getBoundingClientRect();
  const nw = img.naturalWidth || r.width, nh = img.naturalHeight || r.height;
  const k = Math.min(r.width / nw, r.height / nh), w = nw * k, h = nh * k;
  return { left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2, width: w, height: h };
}

// addText puts an empty text block under the row after, for the
// paragraphs between two photos, and moves the keyboard into it.
function addText(after) {
  const li = document.createElement("li"); li.className = "text";
  const kind = document.createElement("div"); kind.className = "kind"; kind.textContent = "文字";
  const area = document.createElement("textarea"); area.placeholder = "文字段落 text block: one paragraph per line"; area.setAttribute("aria-label", "text block");
  const remove = button("✕", "remove", "remove this text block");
  remove.onclick = () => {
    const near = li.previousElementSibling || li.nextElementSibling;
    li.remove();
    (near ? near.querySelector("textarea") : $("drop")).focus(); // keep the keyboard where it was
  };
  li.append(kind, area, moveButtons(li, "text block", remove));
  after.after(li);
  area.focus();
}

function button(text, cls, label) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.className = cls; b.setAttribute("aria-label", label);
  return b;
}

// checkbox is a labelled box; its accessible name says which photo it is
// for, as several rows have the same one.
function checkbox(cls, text, photo) {
  const label = document.createElement("label"); label.className = "check";
  const box = document.createElement("input"); box.type = "checkbox"; box.className = cls;
  box.setAttribute("aria-label", text + ", " + photo);
  label.append(box, " " + text);
  return { label, box };
}

// moveButtons are a row's ↑ and ↓ (and any other buttons given); the
// pressed button keeps the focus when its row moves, so a block can be
// moved with the keyboard by pressing again.
function moveButtons(li, what, ...more) {
  const move = document.createElement("div"); move.className = "move";
  const up = button("↑", "up", "move " + what + " up");
  const down = button("↓", "down", "move " + what + " down");
  up.onclick = () => { if (li.previousElementSibling) { li.parentNode.insertBefore(li, li.previousElementSibling); up.focus(); } };
  down.onclick = () => { if (li.nextElementSibling) { li.parentNode.insertBefore(li.nextElementSibling, li); down.focus(); } };
  move.append(up, down, ...more);
  return move;
}

function upload(item, file) {
  state.uploading++;
  refresh();
  const xhr = new XMLHttpRequest();
  xhr.open("PUT", "/v1/galleries/" + state.gallery + "/photos/" + encodeURIComponent(file.name));
  xhr.setRequestHeader("Authorization", "Bearer " + state.token);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) item.bar.value = Math.round(100 * e.loaded / e.total); };
  xhr.onload = () => {
    state.uploading--;
    if (xhr.status === 201) {
      item.uploaded = true; item.bar.value = 100; item.stage.textContent = "uploaded";
    } else {
      let msg = xhr.statusText;
      try { msg = JSON.parse(xhr.responseText).error.message; } catch (e) {}
      item.failed = true; item.stage.textContent = "refused: " + msg; item.stage.classList.add("failed");
    }
    refresh();
  };
  xhr.onerror = () => { state.uploading--; item.failed = true; item.stage.textContent = "upload failed: network error"; item.stage.classList.add("failed"); refresh(); };
  xhr.send(file);
}

function refresh() {
  const good = state.items.filter((i) => i.uploaded);
  $("overall").textContent = state.items.length ? good.length + " of " + state.items.length + " uploaded" : "";
  $("submit").disabled = state.uploading > 0 || good.length === 0;
}

function byName(name) { return state.items.find((i) => i.name === name); }

function showStage(item) {
  const s = item.stages;
  const parts = ["exif", "renditions", "watermark"].map((k) => k + " " + (s[k] === "done" ? "✓" : s[k] === "failed" ? "✗" : "…"));
  const p = item.provenance;
  if (p && typeof p.state === "string") parts.push(provenanceText(p));
  item.stage.textContent = parts.join(" · ") + (item.reason ? " — " + item.reason : "");
  item.stage.classList.toggle("failed", !!item.reason);
}

// provenanceText says what the original's Content Credentials (C2PA) are,
// as the exif role read them.
function provenanceText(p) {
  const by = typeof p.signer === "string" && p.signer ? ", signed by " + p.signer : "";
  switch (p.state) {
    case "trusted": return "Content Credentials ✓" + by;
    case "valid": return "Content Credentials intact" + by + " (signer not on the trust list)";
    case "invalid": return "Content Credentials INVALID" + (Array.isArray(p.codes) ? " (" + p.codes.join(", ") + ")" : "");
    default: return "no Content Credentials";
  }
}

// follow reads the gallery's Server-Sent Events with fetch (EventSource
// cannot send the bearer token).
async function follow() {
  if (state.following) return;
  state.following = true;
  let last = "";
  for (;;) {
    try {
      const headers = last ? { "Last-Event-ID": last } : {};
      const resp = await api("GET", "/v1/galleries/" + state.gallery + "/events", undefined, headers);
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          let ev = "", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) ev = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
            else if (line.startsWith("id: ")) last = line.slice(4);
          }
          if (ev) onEvent(ev, data ? JSON.parse(data) : {});
        }
      }
    } catch (e) { /* reconnect below */ }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function onEvent(ev, d) {
  const item = d.photo ? byName(d.photo) : null;
  if (ev === "photo.exif" && item) {
    item.stages.exif = "done";
    if (!item.caption.value && d.exif && d.exif.caption) item.caption.value = d.exif.caption;
    prefillRights(item, d.exif && d.exif.rights);
    item.provenance = d.exif && d.exif.provenance;
    showStage(item);
  } else if ((ev === "photo.renditions" || ev === "photo.watermarked") && item) {
    item.stages[ev === "photo.renditions" ? "renditions" : "watermark"] = "done";
    showStage(item);
  } else if (ev.startsWith("failed.") && item) {
    item.stages[ev.slice(7)] = "failed"; item.reason = d.reason; showStage(item);
  } else if (ev === "gallery.held") {
    $("done").hidden = false;
    $("state").textContent = "Held: " + (d.failed || []).map((f) => f.photo + " (" + f.reason + ")").join("; ");
  } else if (ev === "failed.assembler") {
    $("done").hidden = false; $("state").textContent = "gallery.json refused: " + d.reason;
  } else if (ev === "article.ready" || ev === "article.updated") {
    ready(d);
  }
}

// prefillRights fills a photo's empty alt text and photographer from the
// rights its original embeds (the exif result's "rights", named as in
// gallery.json), read defensively: an older exif result has none.
function prefillRights(item, r) {
  if (!r || typeof r !== "object") return;
  if (!item.alt.value && typeof r.alt_text === "string") item.alt.value = r.alt_text;
  const creators = typeof r.creator === "string" ? [r.creator] : Array.isArray(r.creator) ? r.creator.filter((c) => typeof c === "string") : [];
  if (!item.by.value && creators.length) item.by.value = creators.join("、");
}

// list splits a field into its items: keywords and names are separated by
// commas or 、.
function list(s) { return s.split(/[,，、;；]/).map((x) => x.trim()).filter((x) => x); }

// pruned is o without its empty fields ("" and [] and objects left empty),
// or undefined when nothing is left, so the manifest holds only what was
// given.
function pruned(o) {
  const out = {};
  for (const [k, v] of Object.entries(o)) {
    const w = v && typeof v === "object" && !Array.isArray(v) ? pruned(v) : v;
    if (w === undefined || w === "" || (Array.isArray(w) && w.length === 0)) continue;
    out[k] = w;
  }
  return Object.keys(out).length ? out : undefined;
}

// galleryRights are the rights fieldset's fields, named as gallery.json
// names them.
function galleryRights() {
  const v = (id) => $(id).value.trim();
  return pruned({
    credit: v("r-credit"), copyright_notice: v("r-notice"), copyright_holder: v("r-holder"),
    usage_terms: v("r-usage"), web_statement: v("r-web"),
    licensor: { name: v("r-licensor-name"), url: v("r-licensor-url") },
    keywords: list(v("r-keywords")),
    location: { city: v("r-city"), province_state: v("r-province"), country: v("r-country"), country_code: v("r-country-code") },
  });
}

// paragraphs are a text field's paragraphs, one per line: one is written
// as a string, several as a list, as gallery.json takes them.
function paragraphs(s) {
  const ps = s.split("\n").map((p) => p.trim()).filter((p) => p);
  return ps.length === 1 ? ps[0] : ps;
}

// zoned writes a datetime-local value ("2026-07-31T16:30") as RFC 3339
// with the browser's offset for that moment ("2026-07-31T16:30:00+08:00"),
// or "" when there is none.
function zoned(local) {
  const d = new Date(local); // a date-time without offset is local time
  if (!local || isNaN(d)) return "";
  const p2 = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p2(d.getMonth() + 1) + "-" + p2(d.getDate()) + "T" +
    p2(d.getHours()) + ":" + p2(d.getMinutes()) + ":" + p2(d.getSeconds()) + offset(d);
}

// offset is d's UTC offset in the browser's zone, "+08:00".
function offset(d) {
  const m = -d.getTimezoneOffset(), a = Math.abs(m);
  return (m < 0 ? "-" : "+") + String(Math.floor(a / 60)).padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
}

// syncEmbargo allows an embargo only with a publish time, its end.
function syncEmbargo() {
  const none = !$("publish-at").value;
  $("embargo").disabled = none;
  if (none) $("embargo").checked = false;
}

// blocks are the article's blocks as gallery.json lists them, each with
// the row it came from, to point at the one a refusal names.
function blocks() {
  const out = [];
  for (const li of $("photos").children) {
    if (li.classList.contains("text")) {
      const text = paragraphs(li.querySelector("textarea").value);
      if (text.length) out.push({ li, entry: { text } });
      continue;
    }
    const i = byName(li.dataset.name);
    if (!i || !i.uploaded) continue;
    out.push({ li, entry: pruned({
      file: i.name, caption: i.caption.value.trim(),
      rights: pruned({ creator: list(i.by.value), alt_text: i.alt.value.trim() }),
      file_photo: i.filePhoto.checked || undefined,
      date: i.asWritten.checked ? false : undefined,
      focus: focusPoints ? i.focus : undefined,
    }) });
  }
  return out;
}

async function submit() {
  const listed = blocks();
  const byline = $("byline").value.trim();
  const publishAt = zoned($("publish-at").value);
  const manifest = pruned({
    headline: $("headline").value.trim(),
    byline: byline ? byline.split(/\s+/) : [],
    lead: paragraphs($("lead").value),
    rights: galleryRights(),
    publish_at: publishAt,
    embargo: (publishAt && $("embargo").checked) || undefined,
    pubstatus: $("pubstatus").value,
    photos: listed.map((b) => b.entry),
  }) || {};
  const resp = await api("PUT", "/v1/galleries/" + state.gallery + "/manifest", JSON.stringify(manifest), { "Content-Type": "application/json" });
  if (!resp.ok) {
    const msg = await errorText(resp);
    $("compose-error").textContent = msg;
    showField(msg, listed);
    return;
  }
  $("compose-error").textContent = "";
  $("done").hidden = false;
  $("state").textContent = "Submitted; waiting for every photo…";
}

// showField opens or focuses the field a refusal names, so the
// photographer lands where the fix goes.
function showField(msg, listed) {
  const entry = /entry (\d+) of "photos"/.exec(msg);
  if (msg.includes("rights of the gallery")) $("rights").open = true;
  else if (entry && listed[entry[1] - 1]) listed[entry[1] - 1].li.querySelector("textarea").focus();
  else if (msg.includes("of the lead")) $("lead").focus();
  else if (/publish_at|embargo|pubstatus/.test(msg)) $("publish-at").focus();
}

async function ready(ev) {
  $("done").hidden = false;
  $("state").textContent = "Article ready (version " + ev.version + ")";
  $("state").classList.add("ready");
  const resp = await api("GET", "/v1/galleries/" + state.gallery + "/preview");
  if (!resp.ok) return;
  const html = await resp.text();
  const frame = $("preview");
  frame.srcdoc = html; frame.hidden = false;
  const link = $("preview-link");
  link.href = URL.createObjectURL(new Blob([html], { type: "text/html" }));
  link.target = "_blank"; link.hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
  $("files").addEventListener("change", (e) => { addFiles([...e.target.files]); e.target.value = ""; });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); addFiles([...e.dataTransfer.files]); });
  $("submit").addEventListener("click", submit);
  $("publish-at").addEventListener("input", syncEmbargo);
  syncEmbargo();
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  $("zone").textContent = "UTC" + offset(new Date()) + (tz ? " (" + tz + ")" : "");
  if (state.token) signIn(state.token);
});
