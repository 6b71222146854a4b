// Passkey ceremonies for the console's sign-in and registration pages, and
// the live regions (propagation, issuance progress). The
// server keeps the challenge; this only moves bytes between it and the
// browser's WebAuthn API.
"use strict";
(function () {
  const b64 = {
    dec: (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)),
    enc: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
  };
  const status = (msg) => { const el = document.getElementById("status"); if (el) el.textContent = msg; };

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const out = await res.json().catch(() => ({ error: "central answered " + res.status }));
    if (!res.ok) throw new Error(out.error || "central answered " + res.status);
    return out;
  }

  function cred(c) {
    const r = c.response;
    const out = { id: c.id, rawId: b64.enc(c.rawId), type: c.type, response: { clientDataJSON: b64.enc(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = b64.enc(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64.enc(r.authenticatorData);
      out.response.signature = b64.enc(r.signature);
      if (r.userHandle) out.response.userHandle = b64.enc(r.userHandle);
    }
    out.clientExtensionResults = c.getClientExtensionResults ? c.getClientExtensionResults() : {};
    return out;
  }

  async function signIn() {
    status("Waiting for your passkey…");
    try {
      const begin = await post("/console/api/signin/begin");
      const pk = begin.options.publicKey;
      pk.challenge = b64.dec(pk.challenge);
      (pk.allowCredentials || []).forEach((c) => { c.id = b64.dec(c.id); });
      const c = await navigator.credentials.get({ publicKey: pk });
      const done = await post("/console/api/signin/finish?ceremony=" + encodeURIComponent(begin.ceremony), cred(c));
      status("Signed in.");
      location.assign(done.next);
    } catch (e) {
      status("Sign-in failed: " + e.message);
    }
  }

  async function register(ev) {
    ev.preventDefault();
    const f = ev.target;
    status("Checking the code…");
    try {
      const begin = await post("/console/api/register/begin", { code: f.code.value, name: f.name.value });
      const pk = begin.options.publicKey;
      pk.challenge = b64.dec(pk.challenge);
      pk.user.id = b64.dec(pk.user.id);
      (pk.excludeCredentials || []).forEach((c) => { c.id = b64.dec(c.id); });
      status("Create the passkey when your browser asks…");
      const c = await navigator.credentials.create({ publicKey: pk });
      const done = await post("/console/api/register/finish?ceremony=" + encodeURIComponent(begin.ceremony), cred(c));
      status("Passkey registered; you are signed in.");
      location.assign(done.next);
    } catch (e) {
      status("Registration failed: " + e.message);
    }
  }

  // A [data-refresh] region is re-read from the server every N seconds
  // (the propagation view): no meta refresh, which moves focus and
  // fails accessibility checks.
  function live(el) {
    const every = Number(el.dataset.refresh) * 1000;
    // A fresh copy without data-refresh is final (an issuance job that
    // ended): show it and stop asking.
    const timer = setInterval(async () => {
      try {
        const res = await fetch(location.href, { credentials: "same-origin" });
        if (!res.ok) return;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = doc.getElementById(el.id);
        if (!fresh) return;
        el.replaceChildren(...fresh.childNodes);
        if (fresh.dataset.state) el.dataset.state = fresh.dataset.state;
        if (!fresh.hasAttribute("data-refresh")) clearInterval(timer);
      } catch (e) { /* offline for a moment: keep the last view */ }
    }, every);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-refresh]").forEach(live);
    const s = document.getElementById("signin");
    if (s) s.addEventListener("click", signIn);
    const r = document.getElementById("register");
    if (r) r.addEventListener("submit", register);
  });
})();
