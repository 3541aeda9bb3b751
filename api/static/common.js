// What every page shares: the signed-in token, calls to the JSON API, the progress stream, formatting.

const KEPT = "closure.access_token";

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The Supabase session: a sign-in redirect brings #access_token=…; supabase-js keeps its session in
// localStorage under sb-<project>-auth-token. The token is kept for this tab only, never in the address bar.
export function accessToken(key = KEPT) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("access_token");
  if (given) {
    sessionStorage.setItem(key, given);
    history.replaceState(null, "", location.pathname + location.search);
  }
  const kept = sessionStorage.getItem(key);
  if (kept) return kept;
  for (let i = 0; i < localStorage.length; i += 1) {
    const name = localStorage.key(i);
    if (!/^sb-.+-auth-token$/.test(name)) continue;
    try {
      const session = JSON.parse(localStorage.getItem(name));
      if (session && session.access_token) return session.access_token;
    } catch (_) { /* not a session */ }
  }
  return null;
}

export function forgetToken(key = KEPT) {
  sessionStorage.removeItem(key);
}

export async function api(path, token, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiFailure(response.status, body && body.code, (body && body.message) || response.statusText);
  }
  return body;
}

// Server-Sent Events over fetch (EventSource cannot send the Authorization header). Resolves when the server
// ends the stream; rejects when it breaks.
export async function follow(path, token, onEvent, signal, onAlive = () => {}) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
    signal,
    cache: "no-store",
  });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new ApiFailure(response.status, body && body.code, (body && body.message) || response.statusText);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onAlive();
    buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) onEvent(JSON.parse(data));
      end = buffer.indexOf("\n\n");
    }
  }
}

export function showSignedOut(message) {
  const section = document.getElementById("signed-out");
  const signIn = document.body.dataset.signIn;
  if (message) document.getElementById("signed-out-text").textContent = message;
  const link = document.getElementById("sign-in-link");
  if (signIn) link.href = `${signIn}?redirect_to=${encodeURIComponent(location.href)}`;
  else link.hidden = true;
  section.hidden = false;
}

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
export const money = (amount) => usd.format(Number(amount));

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, {
    weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short",
  });
}

// A bank day (YYYY-MM-DD) is a date, not a moment: shown as is, in no time zone.
export function bankDay(isoDate) {
  if (!isoDate) return "";
  const [year, month, day] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day)).toLocaleDateString(undefined, {
    weekday: "short", month: "short", day: "numeric", year: "numeric", timeZone: "UTC",
  });
}

export function timeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
