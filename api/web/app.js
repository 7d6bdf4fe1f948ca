// photodesk upload page: sign in with a token, drop photos (each uploaded
// at once with its own progress bar), caption and order them, submit the
// manifest, then follow every photo's stages live until the article is
// ready. Plain JS, no dependencies; the API does every check.
"use strict";

const $ = (id) => document.getElementById(id);
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
  const img = document.createElement("img");
  img.src = URL.createObjectURL(file); img.alt = "";
  const mid = document.createElement("div");
  const name = document.createElement("div"); name.className = "name"; name.textContent = file.name;
  const bar = document.createElement("progress"); bar.max = 100; bar.value = 0;
  const stage = document.createElement("div"); stage.className = "stage"; stage.textContent = "uploading…";
  const caption = document.createElement("textarea"); caption.placeholder = "图片说明 caption"; caption.setAttribute("aria-label", "caption of " + file.name);
  mid.append(name, bar, stage, caption);
  const move = document.createElement("div"); move.className = "move";
  const up = document.createElement("button"); up.textContent = "↑"; up.title = "move up"; up.className = "up";
  const down = document.createElement("button"); down.textContent = "↓"; down.title = "move down"; down.className = "down";
  move.append(up, down);
  li.append(img, mid, move);
  li.dataset.name = file.name;
  $("photos").append(li);
  const item = { name: file.name, li, bar, stage, caption, uploaded: false, failed: false, stages: {} };
  state.items.push(item);
  up.onclick = () => { if (li.previousElementSibling) li.parentNode.insertBefore(li, li.previousElementSibling); };
  down.onclick = () => { if (li.nextElementSibling) li.parentNode.insertBefore(li.nextElementSibling, li); };
  upload(item, file);
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
  item.stage.textContent = parts.join(" · ") + (item.reason ? " — " + item.reason : "");
  item.stage.classList.toggle("failed", !!item.reason);
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

async function submit() {
  const order = [...$("photos").children].map((li) => byName(li.dataset.name)).filter((i) => i && i.uploaded);
  const byline = $("byline").value.trim();
  const manifest = {
    headline: $("headline").value.trim(),
    photos: order.map((i) => ({ file: i.name, caption: i.caption.value.trim() })),
  };
  if (byline) manifest.byline = byline.split(/\s+/);
  const resp = await api("PUT", "/v1/galleries/" + state.gallery + "/manifest", JSON.stringify(manifest), { "Content-Type": "application/json" });
  if (!resp.ok) { $("compose-error").textContent = await errorText(resp); return; }
  $("compose-error").textContent = "";
  $("done").hidden = false;
  $("state").textContent = "Submitted; waiting for every photo…";
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
  if (state.token) signIn(state.token);
});
