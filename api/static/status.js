// The customer's status page: the closure now, then every change from the progress stream, without reloading.
import {
  ApiFailure, accessToken, api, bankDay, element, follow, money, showSignedOut, sleep, timeZone, when,
} from "./common.js";

const account = document.body.dataset.account;
const statusPath = `/api/account-closure/status/${encodeURIComponent(account)}`;
const streamPath = `/api/account-closure/progress/${encodeURIComponent(account)}/stream?view=customer`;
const SILENCE_MS = 45000; // three missed heartbeats: the stream is dead even if the socket is not
const $ = (id) => document.getElementById(id);
let shown = null;

function setLive(state) {
  const text = {
    live: "Live: this page updates by itself",
    reconnecting: "Connection lost: reconnecting, and checking every few seconds meanwhile",
    done: "Final: nothing more will change",
  }[state];
  $("live").dataset.state = state;
  $("live-text").textContent = text;
}

function announce(message) {
  $("announcer").textContent = message;
}

function renderSteps(steps) {
  const list = $("steps");
  list.replaceChildren(...steps.map((step, index) => {
    const item = element("li", null, { "data-state": step.state, "data-step": step.key });
    item.append(element("span", String(index + 1), { class: "marker", "aria-hidden": "true" }));
    item.append(element("span", step.label, { class: "label" }));
    const words = { done: "done", current: "in progress", upcoming: "to come" }[step.state];
    item.append(element("span", `: ${words}`, { class: "visually-hidden" }));
    if (step.state === "current") item.setAttribute("aria-current", "step");
    return item;
  }));
}

function renderMoney(status) {
  const bar = $("bar");
  bar.value = status.percent_sent;
  $("bar-label").textContent = status.total === null
    ? "The amount to send is known once your positions are sold and settled."
    : `${money(status.sent)} of ${money(status.total)} sent (${status.percent_sent}%)`;
  $("sent").textContent = money(status.sent);
  $("arrived").textContent = money(status.arrived);
  $("bank").textContent = status.bank_last4 ? `Your bank account ••••${status.bank_last4}` : "Your linked bank account";
  $("done-by").textContent = status.expected_done_by ? bankDay(status.expected_done_by) : "Estimated once your sales settle";
}

function renderTransfers(transfers, limit) {
  $("limit").textContent = money(limit);
  $("no-transfers").hidden = transfers.length > 0;
  $("transfers").hidden = transfers.length === 0;
  const cells = (t) => [
    ["Transfer", `${t.chunk}`],
    ["Amount", money(t.amount)],
    ["Status", t.problem ? `${t.status_words} (${t.problem})` : t.status_words],
    ["Sent", when(t.sent_at)],
    ["Expected at your bank", t.expected_by ? `by ${bankDay(t.expected_by)}` : "—"],
    ["Reference", t.reference],
  ];
  $("transfers").tBodies[0].replaceChildren(...transfers.map((t) => {
    const row = element("tr", null, { "data-tone": t.tone });
    for (const [label, value] of cells(t)) row.append(element("td", value, { "data-label": label }));
    return row;
  }));
}

function renderNext(status) {
  const next = status.next_action;
  if (status.state === "closed") $("next").textContent = "Nothing: your closure is complete.";
  else if (status.state === "cancelled") $("next").textContent = "Nothing: the closure was cancelled.";
  else $("next").textContent = next.at ? `${next.what}: ${when(next.at)}.` : `${next.what}.`;
}

function renderHelp(help) {
  $("help").hidden = !help;
  if (!help) return;
  $("help-explanation").textContent = help.explanation;
  $("help-action").textContent = help.what_you_can_do;
  const support = document.body.dataset.support;
  const confirmation = $("confirmation").textContent;
  $("help-contact").href = `mailto:${support}?subject=${encodeURIComponent(`Account closure ${confirmation}`)}`;
}

function render(status) {
  const first = shown === null;
  if (!first && status.sequence <= shown.sequence) return;
  const moved = first || status.headline !== shown.headline || status.sent !== shown.sent;
  shown = status;
  $("closure").hidden = false;
  $("closure").dataset.state = status.state;
  $("closure").dataset.sequence = String(status.sequence);
  $("headline").textContent = status.headline;
  $("confirmation").textContent = status.confirmation_number;
  $("zone").textContent = `your time zone (${timeZone()})`;
  renderSteps(status.steps);
  renderMoney(status);
  renderTransfers(status.transfers, status.daily_limit);
  renderNext(status);
  renderHelp(status.help);
  if (!first && moved) announce(`${status.headline} ${money(status.sent)} sent so far.`);
}

const finished = () => shown !== null && (shown.state === "closed" || shown.state === "cancelled");

function refused(error, token) {
  if (error instanceof ApiFailure && error.status === 401) {
    showSignedOut("Your sign-in has expired. Sign in again to follow your closure.");
    return true;
  }
  if (error instanceof ApiFailure && error.status === 404) {
    $("closure").hidden = true;
    $("missing").hidden = false;
    return true;
  }
  return false;
}

async function poll(token) {
  try {
    render(await api(statusPath, token));
  } catch (error) {
    if (refused(error, token)) throw error;
  }
}

async function stream(token) {
  const stop = new AbortController();
  let timer = null;
  const alive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stop.abort(), SILENCE_MS);
  };
  alive();
  try {
    await follow(streamPath, token, render, stop.signal, alive);
  } finally {
    clearTimeout(timer);
  }
}

async function live(token) {
  let pause = 1000;
  while (!finished()) {
    try {
      setLive("live");
      await stream(token);
      pause = 1000;
    } catch (error) {
      if (refused(error, token)) return;
    }
    if (finished()) break;
    setLive("reconnecting");
    try {
      await poll(token); // while the stream is down the page still catches up
    } catch (_) {
      return;
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 8000);
  }
  setLive("done");
}

async function start() {
  const token = accessToken();
  if (!token) {
    showSignedOut("Sign in to the app to follow your account closure.");
    return;
  }
  try {
    await poll(token);
  } catch (_) {
    return;
  }
  await live(token);
}

start();
