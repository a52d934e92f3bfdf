// Lectern's wrapper around <mux-uploader>: type/size checks, clear messages, resume (see dashboard/components.py).
const CFG = __CFG__;
const uploader = document.getElementById("uploader");
const msg = document.getElementById("msg");
const bar = document.getElementById("bar");
const resumeBtn = document.getElementById("resume");
const vetted = new WeakSet();
let currentFile = null;
let lastProgressAt = 0;
let watchdog = null;

const fmt = (n) => n >= 1073741824 ? (n / 1073741824).toFixed(1) + " GB" : (n / 1048576).toFixed(1) + " MB";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function show(text, kind = "") { msg.textContent = text; msg.className = kind; }
function setState(s) { document.body.dataset.state = s; }

function problem(file) {
  const dot = file.name.lastIndexOf(".");
  const ext = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
  if (!(file.type.startsWith("video/") || CFG.exts.includes(ext))) {
    return `${file.name} is not a video (${file.type || ext || "unknown type"}). Pick a video file (${CFG.exts.join(", ")}).`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > CFG.maxBytes) return `${file.name} is ${fmt(file.size)}; the limit is ${fmt(CFG.maxBytes)}.`;
  return null;
}

function keptUpTo(resp) {
  const m = /bytes=0-(\d+)/.exec(resp.headers.get("Range") || "");
  return m ? parseInt(m[1], 10) + 1 : 0;
}

// How many bytes of this upload the URL already holds (the resumable-upload status query).
async function serverOffset(file) {
  const resp = await fetch(CFG.endpoint, { method: "PUT", headers: { "Content-Range": `bytes */${file.size}` } });
  if (resp.ok) return file.size;
  if (resp.status === 308) return keptUpTo(resp);
  const text = (await resp.text()).slice(0, 200);
  if (resp.status === 400) throw new Error(`this upload already holds part of a different file (${text}). Pick the same file, or start over with a new upload URL.`);
  throw new Error(`the upload URL answered ${resp.status}: ${text}`);
}

async function putChunk(file, start, end) {
  for (let attempt = 1; ; attempt++) {
    let resp = null;
    try {
      resp = await fetch(CFG.endpoint, {
        method: "PUT",
        headers: { "Content-Range": `bytes ${start}-${end}/${file.size}`, "Content-Type": file.type || "application/octet-stream" },
        body: file.slice(start, end + 1),
      });
    } catch (err) {
      if (attempt >= 5) throw unreachable();
    }
    if (resp && (resp.ok || resp.status === 308)) return resp;
    if (resp && ![408, 429, 500, 502, 503, 504].includes(resp.status)) {
      throw new Error(`the upload URL refused the data (${resp.status}): ${(await resp.text()).slice(0, 200)}`);
    }
    if (attempt >= 5) throw new Error(`the upload URL kept failing (${resp ? resp.status : "no answer"})`);
    await sleep(1000 * attempt);
  }
}

async function resumeFrom(file, offset) {
  setState("uploading");
  bar.hidden = false;
  while (offset < file.size) {
    bar.value = offset / file.size;
    show(`Uploading (resumed): ${Math.floor(100 * offset / file.size)}% of ${fmt(file.size)}`);
    const end = Math.min(offset + CFG.chunkBytes, file.size) - 1;
    const resp = await putChunk(file, offset, end);
    const kept = keptUpTo(resp);
    offset = resp.status === 308 ? (kept > 0 ? kept : end + 1) : file.size;
  }
  done();
}

function done() {
  bar.value = 1;
  resumeBtn.hidden = true;
  setState("complete");
  show("Upload complete. Mux is processing the video; the status below turns ready when it is done.", "ok");
}

function failed(reason) {
  reason = reason.replace(/\.+$/, "");
  setState("error");
  resumeBtn.hidden = !currentFile;
  show(`Upload stopped: ${reason}. Check your connection, then click Resume: it continues where it stopped.`, "error");
}

// A request to the upload URL (another origin) that gets no readable answer fails the same way whether the
// network is down or the upload server refused this page's origin (CORS): a TypeError, or UpChunk's status 0.
// A no-cors request tells them apart: it resolves (with an opaque answer) whenever the server answers at all.
function unreachable() { const err = new Error("the connection dropped"); err.unreachable = true; return err; }

async function refusedOrigin() {
  if (navigator.onLine === false) return false;
  try {
    await fetch(CFG.endpoint, { method: "GET", mode: "no-cors", cache: "no-store" });
    return true;
  } catch (err) {
    return false;
  }
}

// Once the upload server has given this page one readable answer, it accepts this origin: a later failure is
// the connection, whatever a probe says now.
let originAccepted = false;

async function failedUnreachable() {
  if (originAccepted || !(await refusedOrigin())) { failed("the connection dropped"); return; }
  setState("error");
  resumeBtn.hidden = true;
  const here = self.origin;
  show(`Upload refused: the upload server does not accept files from this page's address, ${here} (a CORS/origin ` +
    `error, not your connection). Open the dashboard at an address listed in the LECTERN_CORS_ORIGIN setting, or ` +
    `add ${here} to LECTERN_CORS_ORIGIN and restart the dashboard; then get a new upload URL.`, "error");
}

// UpChunk's requests have no timeout, so a connection that hangs (rather than fails) would stall it forever:
// no progress for stallSeconds while online is reported as a drop. Offline, UpChunk waits for 'online' itself.
function touch() { lastProgressAt = Date.now(); }
function watch() {
  clearInterval(watchdog);
  touch();
  watchdog = setInterval(() => {
    if (document.body.dataset.state !== "uploading") { clearInterval(watchdog); return; }
    if (navigator.onLine === false) { touch(); return; }
    if (Date.now() - lastProgressAt > CFG.stallSeconds * 1000) {
      clearInterval(watchdog);
      if (uploader._upload && uploader._upload.abort) uploader._upload.abort();
      failed(`no progress for ${CFG.stallSeconds} s (the connection dropped)`);
    }
  }, 1000);
}

async function start(file) {
  resumeBtn.hidden = true;
  let offset = 0;
  try {
    offset = await serverOffset(file);
    originAccepted = true;
  } catch (err) {
    if (err instanceof TypeError) return failedUnreachable();  // fetch got no answer it may read
    failed(err.message.startsWith("this upload") ? err.message : "the upload URL could not be reached");
    return;
  }
  if (offset >= file.size) return done();
  if (offset > 0) {
    try { await resumeFrom(file, offset); } catch (err) { err.unreachable ? failedUnreachable() : failed(err.message); }
    return;
  }
  // Nothing uploaded yet: hand the file to <mux-uploader> (chunked upload with its progress bar).
  vetted.add(file);
  setState("uploading");
  uploader.dispatchEvent(new CustomEvent("file-ready", { composed: true, bubbles: true, detail: file }));
}

// Capture phase on the document runs before <mux-uploader>'s own listener: check the file first.
document.addEventListener("file-ready", (event) => {
  const file = event.detail;
  if (vetted.has(file)) return;
  event.stopImmediatePropagation();
  const why = problem(file);
  if (why) { setState("rejected"); show(why, "error"); return; }
  currentFile = file;
  show(`Checking the upload URL for ${file.name} (${fmt(file.size)})…`);
  start(file);
}, true);

uploader.addEventListener("uploadstart", () => { show("Uploading…"); watch(); });
uploader.addEventListener("progress", touch);
uploader.addEventListener("chunksuccess", () => { originAccepted = true; touch(); });
uploader.addEventListener("offline", () => show("Connection lost: the upload pauses and continues by itself when you are back online.", "error"));
uploader.addEventListener("online", () => { touch(); show("Back online: continuing the upload."); });
uploader.addEventListener("uploaderror", (event) => {
  const message = (event.detail && event.detail.message) || "the upload failed";
  // UpChunk reports a request that got no answer it may read as status 0.
  if (/responded with 0\b/.test(message)) failedUnreachable(); else failed(message);
});
uploader.addEventListener("success", done);
resumeBtn.addEventListener("click", () => { if (currentFile) start(currentFile); });
