// The verifier page: camera frames, an uploaded photo or pasted text go to
// the appliance's own POST /v1/qr/verify; the answer becomes a verdict in
// plain words. No other origin is ever contacted (see the page's CSP).
"use strict";

(() => {
  const API = "../v1/qr/verify";
  const INTERVAL_MS = 250; // at most four camera frames a second
  const MAX_SIDE = 1280;   // frames are scaled down to this before JPEG
  const $ = (id) => document.getElementById(id);
  const video = $("video"), canvas = document.createElement("canvas");
  let stream = null, scanning = false, generation = 0;

  // Plain words for each stage/reason of the API's answer (docs/api/appliance.md).
  function explain(a) {
    const r = (a.reason || "").toLowerCase();
    if (a.valid && a.stale) {
      return { kind: "warn", title: "Valid, but the lists are out of date",
        detail: "The signature is genuine, but this appliance's trust and revocation lists are past their update time, so a recent revocation may be missed. Ask for the lists to be refreshed." };
    }
    if (a.valid) {
      return { kind: "valid", title: "Valid",
        detail: "Genuine: signed by a trusted issuer, in date and not revoked. Check that the photo matches the person." };
    }
    const no = (title, detail) => ({ kind: "invalid", title: "Not valid: " + title, detail });
    switch (a.stage) {
      case "time":
        if (r.includes("expired")) return no("expired", "This credential has passed its expiry date. The holder needs a new one.");
        return no("not yet valid", "This credential's start date is in the future. Check the appliance's clock, or ask the holder for another credential.");
      case "revocation":
        return no("revoked", "The issuer has withdrawn this credential (for example a lost or replaced card). Do not accept it.");
      case "trust-list":
        if (r.includes("stale")) return { kind: "warn", title: "Cannot check: lists out of date",
          detail: "This appliance's trust lists are past their update time, so it refuses to decide. Ask for the lists to be refreshed." };
        if (r.includes("no trust list")) return { kind: "warn", title: "Cannot check: no trust list",
          detail: "This appliance has no trust list loaded. Ask the administrator to install one (--qr-trust)." };
        if (r.includes("key revoked")) return no("issuer key withdrawn", "The key that signed this credential has been withdrawn by central. Do not accept it.");
        if (r.includes("not valid at")) return no("signed outside the key's validity", "The issuer's key was not valid when this credential was signed. Do not accept it.");
        if (r.includes("does not match")) return no("wrong issuer", "The credential names a different issuer from the one its key belongs to. Do not accept it.");
        return no("unknown issuer", "This appliance does not trust the issuer of this credential.");
      case "signature":
        if (r.includes("not on the trust list") || r.includes("unknown key")) return no("unknown issuer", "This credential was signed by an issuer this appliance does not trust.");
        return no("tampered", "The signature does not match the contents: the credential has been altered or forged. Do not accept it.");
      case "image":
        return { kind: "error", title: "No QR code found", detail: "No readable QR code was found in the picture. Try a sharper, closer photo with the whole code in view." };
      case "base45": case "decompress": case "cose": case "cwt": case "claim169": case "input": case "decode":
        if (r.includes("not on the trust list") || r.includes("unknown key")) return no("unknown issuer", "This credential was signed by an issuer this appliance does not trust.");
        return no("not an identity QR", "The code was read but is damaged or is not an identity credential (MOSIP Claim 169).");
      default:
        return no("cannot be verified", "The appliance could not verify this code.");
    }
  }

  function setText(id, s) { $(id).textContent = s; }

  function showVerdict(kind, title, detail, tech) {
    const v = $("verdict");
    v.dataset.verdict = kind;
    setText("verdict-title", title);
    setText("verdict-detail", detail);
    const t = $("verdict-tech");
    t.hidden = !tech;
    t.textContent = tech ? "Technical detail: " + tech : "";
    performance.mark("verdict-shown", { detail: { kind } });
    // On a phone the result is below the camera: bring it into view.
    const top = v.getBoundingClientRect().top;
    if (kind !== "none" && (top < 0 || top > window.innerHeight - 80)) $("result-h").scrollIntoView({ block: "start" });
  }

  function fmtDay(y, m, d) {
    const dt = new Date(Date.UTC(y, m - 1, d));
    if (isNaN(dt)) return "";
    return dt.toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" }) +
      " (" + dt.toISOString().slice(0, 10) + ")";
  }
  function fmtUnix(s) {
    if (typeof s !== "number") return "—";
    const dt = new Date(s * 1000);
    return fmtDay(dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate());
  }
  function fmtDOB(s) {
    const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(s || "");
    return m ? fmtDay(+m[1], +m[2], +m[3]) || s : (s || "—");
  }
  const PHOTO_TYPES = { 1: "image/jpeg", 3: "image/avif", 4: "image/webp" };

  function showCard(cred) {
    const card = $("card");
    if (!cred) { card.hidden = true; return; }
    const id = cred.claim169 || {}, meta = cred.cwtMeta || {};
    const name = id.fullName || [id.firstName, id.middleName, id.lastName].filter(Boolean).join(" ");
    setText("f-name", name || "—");
    setText("f-id", id.id || meta.subject || "—");
    setText("f-dob", fmtDOB(id.dateOfBirth));
    setText("f-issued", fmtUnix(meta.issuedAt));
    setText("f-expires", meta.expiresAt ? fmtUnix(meta.expiresAt) : "no expiry date");
    setText("f-issuer", meta.issuer || "—");
    const img = $("photo"), none = $("no-photo");
    const type = PHOTO_TYPES[id.photoFormat || 1];
    if (id.photo && type && /^[A-Za-z0-9+/=]+$/.test(id.photo)) {
      img.src = "data:" + type + ";base64," + id.photo;
      img.hidden = false; none.hidden = true;
    } else {
      img.removeAttribute("src");
      img.hidden = true; none.hidden = false;
      none.textContent = id.photo ? "The photo is in a format this browser cannot show (JPEG 2000)." : "No photo on this credential.";
    }
    card.hidden = false;
  }

  // post sends one request; it resolves to {status, body} and never throws.
  async function post(body, type) {
    try {
      const res = await fetch(API, { method: "POST", body, headers: { "Content-Type": type },
        cache: "no-store", credentials: "same-origin", referrerPolicy: "no-referrer" });
      let json = null;
      try { json = await res.json(); } catch (e) { json = null; }
      return { status: res.status, body: json };
    } catch (e) {
      return { status: 0, body: { error: "the appliance did not answer (" + e.message + ")" } };
    }
  }

  // answer shows a 200 answer; it returns false when there was nothing to
  // show (a camera frame without a QR code).
  function answer(res, fromCamera) {
    if (res.status !== 200 || !res.body) {
      if (fromCamera && (res.status === 429 || res.status === 503)) return false; // busy: the next frame retries
      const msg = (res.body && res.body.error) || ("HTTP " + res.status);
      showCard(null);
      showVerdict("error", "Could not check", "The appliance refused the request: " + msg, "");
      return true;
    }
    const a = res.body;
    if (fromCamera && a.stage === "image") return false;
    const e = explain(a);
    showCard(a.valid ? a.credential : null);
    showVerdict(e.kind, e.title, e.detail, a.valid && !a.stale ? "" : (a.reason || ""));
    return true;
  }

  function grab() {
    const w = video.videoWidth, h = video.videoHeight;
    const s = Math.min(1, MAX_SIDE / Math.max(w, h));
    canvas.width = Math.round(w * s); canvas.height = Math.round(h * s);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function scanLoop(gen) {
    setText("camera-state", "Looking for a QR code…");
    while (scanning && gen === generation) {
      const t0 = performance.now();
      if (video.readyState >= 2 && video.videoWidth > 0) {
        const blob = await grab();
        if (blob) {
          performance.mark("frame-sent");
          const res = await post(blob, "image/jpeg");
          if (!scanning || gen !== generation) return;
          if (answer(res, true)) {
            scanning = false;
            setText("camera-state", "Code read. Press “Scan another” for the next card.");
            $("again").hidden = false;
            return;
          }
        }
      }
      await sleep(Math.max(0, INTERVAL_MS - (performance.now() - t0)));
    }
  }

  function startScanning() {
    scanning = true; generation++;
    $("again").hidden = true;
    scanLoop(generation);
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showVerdict("error", "No camera here", "This browser offers no camera to this page. Open it over HTTPS (the appliance serves it so), or use the upload or paste below.", "");
      return;
    }
    setText("camera-state", "Opening the camera…");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } } });
    } catch (e) {
      setText("camera-state", "The camera is off.");
      const why = e.name === "NotAllowedError" ? "Camera permission was refused: allow the camera for this page in the browser's site settings."
        : e.name === "NotFoundError" ? "No camera was found. Connect one, or use the upload or paste below."
        : "The camera could not be opened (" + e.name + ").";
      showVerdict("error", "Camera unavailable", why, "");
      return;
    }
    video.srcObject = stream;
    try { await video.play(); } catch (e) { /* muted autoplay is allowed; frames still arrive */ }
    $("start").hidden = true; $("stop").hidden = false;
    startScanning();
    $("stop").focus();
  }

  function stopCamera() {
    scanning = false; generation++;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null; video.srcObject = null;
    $("start").hidden = false; $("stop").hidden = true; $("again").hidden = true;
    setText("camera-state", "The camera is off.");
    $("start").focus();
  }

  async function verifyFile(file) {
    if (!file) return;
    if (file.type !== "image/png" && file.type !== "image/jpeg") {
      showCard(null);
      showVerdict("error", "Not a PNG or JPEG", "Upload a photo of the QR code as a PNG or JPEG file.", "");
      return;
    }
    if (file.size > 8 << 20) {
      showCard(null);
      showVerdict("error", "Photo too large", "The photo is over 8 MiB. Take a smaller one, or crop it to the QR code.", "");
      return;
    }
    showVerdict("none", "Checking…", "Reading the QR code in the photo.", "");
    answer(await post(file, file.type), false);
  }

  async function verifyText(text) {
    text = text.trim();
    if (!text) {
      showVerdict("error", "Nothing to check", "Paste the text of a QR code first.", "");
      return;
    }
    showVerdict("none", "Checking…", "Verifying the pasted text.", "");
    answer(await post(JSON.stringify({ text }), "application/json"), false);
  }

  $("start").addEventListener("click", startCamera);
  $("stop").addEventListener("click", stopCamera);
  $("again").addEventListener("click", () => {
    showCard(null);
    showVerdict("none", "Scanning…", "Hold the next QR code up to the camera.", "");
    startScanning();
  });
  $("file").addEventListener("change", (e) => { verifyFile(e.target.files[0]); });
  $("upload-form").addEventListener("submit", (e) => { e.preventDefault(); verifyFile($("file").files[0]); });
  $("paste-form").addEventListener("submit", (e) => { e.preventDefault(); verifyText($("text").value); });
  document.documentElement.dataset.ready = "1";
})();
