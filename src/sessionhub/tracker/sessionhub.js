// sessionhub.js: the Sessionhub browser tracker. No dependencies, no cookies.
//
// This is the readable source, an ES module. scripts/build-tracker minifies it into the two
// files the server sends: sessionhub.min.js at /sdk/sessionhub.js (a classic script that
// starts from its own <script data-key="pk_…"> tag and sets window.sessionhub) and
// sessionhub.min.mjs at /sdk/sessionhub.mjs (this module: call init() yourself).
// See docs/tracker.md.

const w = window;
const d = document;
const nav = navigator;
const BATCH = 5; // events per request: a batch goes out at 5 events…
const WAIT = 5e3; // …or 5 s after its first event
const BEAT = 3e5; // heartbeat every 5 minutes while the page is visible
const KEEP = 500; // at most this many unsent events wait in localStorage
const ENDED = ["session_ended", "not_found"];

let cfg; // {key, host, consent, auto}: how the page set us up
let conf; // the app's consent_mode and honor_dnt, from the server (nothing is sent before)
let st = {}; // what tabs share through localStorage: device, session, user, consent
let buf = []; // events not sent yet
let timer; // the pending batch's 5 s timer
let retryTimer;
let tries = 0; // failed sends in a row: the retry backoff
let creating; // the session start in flight
let lastUrl;
let fingerprint;
let bc;
let configuring; // the config request in flight
const decisions = {}; // decide() answers of this page load, by query

// A random UUID (v4 shape): crypto.randomUUID needs a secure context, this does not.
const uuid = () =>
  "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
    (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16),
  );

// The server refuses longer URLs and titles: cut them rather than lose the event.
const cut = (text, max) => (text ? text.slice(0, max || 2048) : undefined);

// localStorage may be missing or full (private modes): then state lives in memory only.
const read = (k) => {
  try {
    return JSON.parse(localStorage.getItem(k));
  } catch (e) {}
};
const write = (k, v) => {
  try {
    v == null ? localStorage.removeItem(k) : localStorage.setItem(k, JSON.stringify(v));
  } catch (e) {}
};
const stateKey = () => "sessionhub:" + cfg.key;
const queueKey = () => stateKey() + ":q";
const load = () => (st = (cfg && read(stateKey())) || st);
const save = () => {
  // Without consent (when it is required) only the visitor's choices are kept.
  if (conf) write(stateKey(), allowed() ? st : { c: st.c, g: st.g });
  bc && bc.postMessage(st);
};

const consent = () => st.c || (st.c = {});
const gpc = () => nav.globalPrivacyControl === true;
const dnt = () => conf.honor_dnt && (nav.doNotTrack == "1" || w.doNotTrack == "1");
// A purpose (analytics, personalization) needs a yes when consent is required (by the app
// or the page), and only the absence of a no otherwise.
const ok = (purpose) =>
  conf &&
  !dnt() &&
  (cfg.consent == "required" || conf.consent_mode == "required"
    ? consent()[purpose] === true
    : consent()[purpose] !== false);
const allowed = () => ok("analytics");

const api = async (path, body) => {
  const r = await fetch(cfg.host + "/v1/" + path, {
    method: "POST",
    headers: { Authorization: "Bearer " + cfg.key, "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  // 429 and 5xx are worth a retry, like a network failure.
  if (r.status == 429 || r.status > 499) throw r.status;
  return [r.status, await r.json().catch(() => ({}))];
};

// One session id shared by every tab: a Web Lock lets one tab start it, the others read it.
const lock = (f) => (nav.locks ? nav.locks.request("sessionhub:" + cfg.key, f) : f());

const session = () =>
  load().s ||
  (creating ||= lock(async () => {
    if (!load().s) {
      const [code, body] = await api("sessions", {
        device_id: device(),
        user_id: st.u || undefined,
        entry_page: cut(location.href),
        referrer: cut(d.referrer),
        screen: screen.width + "x" + screen.height,
      });
      if (code != 201) return;
      st.s = body.id;
      save();
    }
    return st.s;
  }).finally(() => (creating = 0)));

// Computed only with fingerprinting consent: canvas, screen, timezone and language, hashed.
const hash = () => {
  const c = d.createElement("canvas");
  const x = c.getContext("2d");
  x.font = "14px Arial";
  x.fillStyle = "#f60";
  x.fillRect(1, 1, 60, 20);
  x.fillStyle = "#069";
  x.fillText("Sessionhub \u{1F600}", 2, 15);
  const s = [
    c.toDataURL(),
    screen.width,
    screen.height,
    screen.colorDepth,
    Intl.DateTimeFormat().resolvedOptions().timeZone,
    nav.language,
  ].join();
  let a = 0xdeadbeef;
  let b = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    a = Math.imul(a ^ s.charCodeAt(i), 2654435761);
    b = Math.imul(b ^ s.charCodeAt(i), 1597334677);
  }
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  return (b >>> 0).toString(16).padStart(8, 0) + (a >>> 0).toString(16).padStart(8, 0);
};

// The device id: a fingerprint hash with that consent (so the device is known again after
// its storage was cleared), else a random id kept in localStorage.
const device = () => {
  const fp = consent().fingerprinting === true;
  if (!st.d || /^fp_/.test(st.d) != fp) {
    st.d = fp ? "fp_" + (fingerprint ||= hash()) : uuid();
    save();
  }
  return st.d;
};

const backoff = () => {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(retry, Math.min(1e3 * 2 ** tries++, BEAT));
};

// Unsent events wait in localStorage (the newest KEEP) until a retry delivers them.
const keep = (events) => {
  write(queueKey(), (read(queueKey()) || []).concat(events).slice(-KEEP));
  backoff();
};

const retry = () => {
  const events = read(queueKey());
  if (!events || !events.length || !allowed()) return;
  write(queueKey(), []); // taken: another tab finds nothing to send twice
  send(events);
};

// Send a batch. Each event keeps its id through every retry, so the server stores it once.
const send = async (events, again) => {
  try {
    const sid = await session();
    if (!sid) return; // the server refused to start a session (a bad key or origin)
    for (const e of events) {
      e.session_id ||= sid;
      e.device_id ||= st.d;
    }
    const [, body] = await api("events", { events });
    // The server is reachable again: what waits in the queue goes now, not at its backoff.
    if (tries) {
      tries = 0;
      retry();
    }
    // Events of a session the server says is over go to a new session, once.
    const moved = (body.rejected || body.error?.details?.rejected || [])
      .filter((r) => ENDED.includes(r.code))
      .map((r) => events[r.index]);
    if (moved.length && !again) {
      if (moved.some((e) => e.session_id == load().s)) {
        st.s = 0;
        save();
      }
      for (const e of moved) e.session_id = 0;
      await send(moved, 1);
    }
  } catch (e) {
    keep(events);
  }
};

const flush = async () => {
  clearTimeout(timer);
  timer = 0;
  if (buf.length && allowed()) await send(buf.splice(0));
};

// The page is going away (or hidden, maybe for good): the buffer goes out by sendBeacon,
// which survives the unload; offline or refused, it waits in localStorage instead.
const leave = () => {
  if (!buf.length || !allowed()) return;
  clearTimeout(timer);
  timer = 0;
  const events = buf.splice(0);
  for (const e of events) {
    e.session_id ||= load().s || undefined;
    e.device_id = device();
  }
  const body = JSON.stringify({ key: cfg.key, events });
  if (!nav.onLine || !nav.sendBeacon(cfg.host + "/v1/beacon", body)) keep(events);
};

export const trackEvent = (type, properties, extra) => {
  if (!cfg || (conf && dnt()) || consent().analytics === false) return;
  buf.push({
    id: uuid(),
    type,
    timestamp: new Date().toISOString(),
    url: cut(location.href),
    title: cut(d.title, 500),
    properties: properties || {},
    ...extra,
  });
  // Before consent (or the app's settings) arrive, events wait here: one batch's worth.
  if (!allowed()) buf = buf.slice(-BATCH);
  else if (buf.length >= BATCH) flush();
  else timer ||= setTimeout(flush, WAIT);
};

export const trackPageView = () => {
  if (location.href == lastUrl) return;
  const referrer = cut(lastUrl || d.referrer);
  lastUrl = location.href;
  trackEvent("page_view", {}, { referrer });
};

export const getSessionId = () => (cfg && load().s) || null;

export const endSession = async (reason) => {
  // What happened before the end belongs to the session: send it first.
  await flush();
  const sid = getSessionId();
  // After a logout the tracker names no user (the server still knows a linked device's).
  if (!reason || reason == "logout") st.u = 0;
  if (!sid) return save();
  st.s = 0;
  save();
  try {
    await api("sessions/" + sid + "/end", {
      reason: reason || "logout",
      exit_page: cut(location.href),
    });
  } catch (e) {}
};

// Identify: the server links this browser's device to the user, and the device's sessions
// join the user's history. A different user than before starts a new session.
export const setUserId = async (user) => {
  if (!cfg) return;
  load();
  if (st.u && st.u != user) await endSession();
  st.u = user || 0;
  save();
  if (user && allowed()) {
    try {
      const sid = await session();
      // Once per session is enough: apps call this on every page.
      if (sid && st.i != sid) {
        const [code] = await api("sessions/" + sid + "/identify", { user_id: user });
        if (code == 200) {
          st.i = sid;
          save();
        }
      }
    } catch (e) {}
  }
};

// Record the visitor's choices: {analytics, personalization, marketing, fingerprinting},
// each true or false. The server keeps them for this device (POST /v1/consent). Global
// Privacy Control is a standing "no" to marketing (and to sale or sharing) that no choice
// here overrides.
export const updateConsent = async (choices) => {
  if (!cfg) return;
  load();
  const was = JSON.stringify(consent()) + st.g;
  const before = st.d;
  Object.assign(st.c, choices);
  if (gpc()) st.c.marketing = false;
  st.g = gpc();
  const no = st.c.analytics === false;
  if (no) {
    // A "no": forget what this device holds but the choice itself, and tell the other tabs.
    buf = [];
    write(queueKey());
    st = { c: st.c, g: st.g };
  }
  // The choice belongs to the device tracked so far, and to the one tracked from now on
  // (a new fingerprint id); a refusal before any tracking goes to a throwaway id.
  const ids = new Set([before, no ? before || uuid() : device()]);
  save();
  if (was != JSON.stringify(st.c) + st.g) {
    for (const id of ids) {
      if (id) {
        try {
          await api("consent", { device_id: id, purposes: st.c, do_not_sell: st.g || undefined });
        } catch (e) {}
      }
    }
  }
  if (allowed()) {
    retry();
    await flush();
  }
};

export const getConsent = () => ({ ...consent() });

export const flushEvents = flush;

// The variant of each running experiment for this visitor (its device, session and user:
// each experiment's unit picks one) and the merged feature values: GET /v1/decide. One
// request per page load for the same attributes and options; a failure rejects (and is
// not kept, so a later call asks again). Without analytics and personalization consent it
// asks nothing and answers no variants: the page shows its defaults.
export const decide = async (attributes, options) => {
  if (!cfg) throw Error("sessionhub: call init() first");
  await configure();
  if (!ok("analytics") || !ok("personalization")) return { variants: {}, features: {} };
  const q = new URLSearchParams({ device_id: device() });
  const sid = await Promise.resolve()
    .then(session)
    .catch(() => 0);
  if (sid) q.set("session_id", sid);
  if (load().u) q.set("user_id", st.u);
  if (attributes) q.set("attributes", JSON.stringify(attributes));
  if (options && options.track === false) q.set("track", false);
  return (decisions[q] ||= fetch(cfg.host + "/v1/decide?" + q, {
    headers: { Authorization: "Bearer " + cfg.key },
  })
    .then(async (r) => {
      const body = await r.json();
      if (!r.ok) throw body.error || r.status;
      return body;
    })
    .catch((e) => {
      delete decisions[q];
      throw e;
    }));
};

// The app's consent settings decide whether anything may be sent: ask for them first.
const configure = () =>
  conf ||
  (configuring ||= fetch(cfg.host + "/v1/tracker/config?key=" + encodeURIComponent(cfg.key))
    .then((r) => {
      if (r.status > 499) throw 0;
      return r.ok && r.json();
    })
    .then((c) => {
      if (!c || conf) return;
      conf = c;
      // A GPC browser's standing "no" goes to the server once.
      if (gpc() && !load().g && allowed()) updateConsent({});
      else if (allowed()) {
        flush();
        retry();
      }
    })
    .catch(() => setTimeout(configure, BEAT / 10))
    .finally(() => (configuring = 0)));

export const init = (options) => {
  if (cfg) return;
  cfg = { auto: true, ...options };
  cfg.host = (cfg.host || location.origin).replace(/\/$/, "");
  load();
  if (gpc()) consent().marketing = false;
  // Other tabs tell us about a new session (BroadcastChannel; storage events as fallback).
  const adopt = (other) => other && other.c && (st = other);
  if (w.BroadcastChannel) bc = new BroadcastChannel(stateKey());
  if (bc) bc.onmessage = (m) => adopt(m.data);
  else w.addEventListener("storage", (e) => e.key == stateKey() && adopt(read(stateKey())));
  d.addEventListener("visibilitychange", () => d.visibilityState == "hidden" && leave());
  w.addEventListener("pagehide", leave);
  w.addEventListener("online", () => {
    tries = 0;
    configure();
    retry();
  });
  setInterval(async () => {
    const sid = load().s;
    if (sid && d.visibilityState == "visible" && allowed()) {
      try {
        const [code] = await api("sessions/" + sid + "/heartbeat");
        // Over (idle, expired, ended elsewhere): the next activity starts a new session.
        if (code == 409 || code == 404) {
          if (load().s == sid) st.s = 0;
          save();
        }
      } catch (e) {}
    }
  }, BEAT);
  if (cfg.auto) {
    for (const name of ["pushState", "replaceState"]) {
      const original = history[name];
      history[name] = function () {
        const result = original.apply(this, arguments);
        trackPageView();
        return result;
      };
    }
    w.addEventListener("popstate", trackPageView);
    trackPageView();
  }
  configure();
};

// As a classic <script data-key="pk_…">: start from the tag's attributes.
const tag = d.currentScript;
if (tag && tag.dataset.key) {
  const o = tag.dataset;
  init({
    key: o.key,
    host: o.host || new URL(tag.src).origin,
    consent: o.consent,
    auto: o.auto != "false",
  });
}
