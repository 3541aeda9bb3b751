// The operations dashboard: closures by phase, the needs-attention queue first, one closure in detail, and
// retry or cancel behind a confirmation that records who acted and why.
import { ApiFailure, accessToken, api, element, forgetToken, money, when } from "./common.js";

const TOKEN = "closure.operator_token";
const NAME = "closure.operator_name";
const REFRESH_MS = 10000;
const $ = (id) => document.getElementById(id);
let token = null;
let current = null; // the closure shown in detail

function waited(seconds) {
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days ${hours % 24} h`;
}

function facts(list, pairs) {
  list.replaceChildren(...pairs.map(([label, value]) => {
    const row = element("div");
    row.append(element("dt", label), element("dd", value));
    return row;
  }));
}

function signIn(message) {
  $("ops").hidden = true;
  $("sign-out").hidden = true;
  $("ops-sign-in").hidden = false;
  if (message) {
    $("sign-in-error").textContent = message;
    $("sign-in-error").hidden = false;
  }
}

async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiFailure && (error.status === 401 || error.status === 403)) {
      forgetToken(TOKEN);
      signIn(`Not signed in as an operator: ${error.message}`);
    }
    throw error;
  }
}

async function refresh() {
  const overview = await guarded(() => api("/api/admin/overview", token));
  const counts = Object.entries(overview.counts).sort(([a], [b]) => (a === "needs_attention" ? -1 : b === "needs_attention" ? 1 : 0));
  facts($("counts"), counts.map(([phase, count]) => [phase.replaceAll("_", " "), String(count)]));
  const queue = overview.needs_attention;
  $("queue-empty").hidden = queue.length > 0;
  $("queue").hidden = queue.length === 0;
  $("queue").tBodies[0].replaceChildren(...queue.map((closure) => {
    const row = element("tr", null, { "data-account": closure.account_id });
    row.append(
      element("td", closure.account_id, { "data-label": "Account" }),
      element("td", closure.reason, { "data-label": "Reason" }),
      element("td", waited(closure.waited_seconds), { "data-label": "Waiting" }),
      element("td", closure.confirmation_number, { "data-label": "Confirmation" }),
    );
    const open = element("button", "Open", { type: "button", class: "button small" });
    open.setAttribute("aria-label", `Open the closure of account ${closure.account_id}`);
    open.addEventListener("click", () => show(closure.account_id));
    const cell = element("td");
    cell.append(open);
    row.append(cell);
    return row;
  }));
  $("refreshed").textContent = `Updated ${new Date().toLocaleTimeString()}.`;
}

function renderDetail(progress) {
  $("detail-account").textContent = progress.account_id;
  $("detail-step").textContent = progress.step;
  facts($("detail-facts"), [
    ["Phase", progress.phase],
    ["Confirmation", progress.confirmation_number],
    ["Started (workflow time)", when(progress.started_at)],
    ["Sent", money(progress.amount_withdrawn)],
    ["Completed at the broker", money(progress.amount_completed)],
    ["Withdrawable at last look", money(progress.amount_remaining)],
    ["Next action (workflow time)", progress.next_action_at ? when(progress.next_action_at) : "—"],
  ]);
  $("temporal-link").href = `${document.body.dataset.temporalUi}/${encodeURIComponent(progress.workflow_id)}`;
  const attention = progress.attention;
  $("detail-attention").hidden = !attention;
  if (attention) {
    $("detail-attention").textContent =
      `Waiting for an operator since ${when(attention.since)} (${attention.error_type}): ${attention.reason}. ` +
      `A retry resumes at ${attention.resume_phase}.`;
  }
  $("retry").disabled = progress.phase !== "needs_attention";
  $("cancel").disabled = ["completed", "cancelled"].includes(progress.phase);
  $("timeline").replaceChildren(...progress.history.map((change) =>
    element("li", `${when(change.at)}: ${change.phase}${change.note ? ` (${change.note})` : ""}`)));
  $("detail-transfers").tBodies[0].replaceChildren(...[...progress.transfers, ...progress.unowned_transfers].map((t) => {
    const row = element("tr");
    for (const [label, value] of [["Chunk", String(t.chunk)], ["Amount", money(t.amount)],
      ["Status", t.reason ? `${t.status} (${t.reason})` : t.status], ["Created (broker)", when(t.initiated_at)],
      ["Transfer id", t.transfer_id]]) row.append(element("td", value, { "data-label": label }));
    return row;
  }));
  $("alerts").replaceChildren(...(progress.alerts.length ? progress.alerts.map((a) =>
    element("li", `${when(a.at)}: ${a.kind}: ${a.message}`)) : [element("li", "None.")]));
}

async function renderBroker(accountId) {
  try {
    const state = await api(`/api/admin/closures/${encodeURIComponent(accountId)}/broker`, token);
    const view = state.view;
    facts($("broker"), [
      ["Account status", view.status],
      ["Cash", money(view.cash)],
      ["Withdrawable", money(view.cash_withdrawable)],
      ["Positions", String(view.positions.length)],
      ["Open orders", String(view.open_orders)],
      ["Bank", view.approved_relationship ? `••••${view.approved_relationship.account_last4} (${view.approved_relationship.status})` : "none approved"],
      ["Broker clock", when(view.clock.now)],
    ]);
  } catch (error) {
    facts($("broker"), [["Unavailable", error.message]]);
  }
}

async function renderAudit(accountId) {
  const trail = await api(`/api/admin/closures/${encodeURIComponent(accountId)}/audit`, token);
  $("audit").replaceChildren(...(trail.entries.length ? trail.entries.map((e) =>
    element("li", `${when(e.at)}: ${e.actor} ${e.action}${e.dry_run ? " (dry run)" : ""}: ${e.outcome}${e.reason ? `, “${e.reason}”` : ""}`))
    : [element("li", "None.")]));
}

async function show(accountId) {
  $("search-error").hidden = true;
  try {
    current = await guarded(() => api(`/api/admin/closures/${encodeURIComponent(accountId)}`, token));
  } catch (error) {
    $("search-error").textContent = error.message;
    $("search-error").hidden = false;
    return;
  }
  $("action-result").textContent = "";
  renderDetail(current);
  $("detail").hidden = false;
  $("detail").focus();
  await Promise.all([renderBroker(accountId), renderAudit(accountId)]);
}

function ask(action) {
  const dialog = $("confirm-dialog");
  const verb = action === "retry" ? "Retry" : "Cancel";
  $("confirm-dialog-title").textContent = `${verb} the closure of ${current.account_id}?`;
  $("confirm-dialog-text").textContent = action === "retry"
    ? `It resumes at ${current.attention ? current.attention.resume_phase : "its phase"}; the closure checks the broker again first.`
    : "The closure stops and the customer keeps their account. Refused once money has moved.";
  $("confirm-action").textContent = `Confirm ${action}`;
  $("confirm-operator").textContent = sessionStorage.getItem(NAME);
  $("confirm-reason").value = "";
  dialog.dataset.action = action;
  dialog.showModal();
}

async function carryOut(action) {
  const accountId = current.account_id;
  const body = { operator: sessionStorage.getItem(NAME), reason: $("confirm-reason").value };
  try {
    const outcome = await guarded(() => api(`/api/admin/closures/${encodeURIComponent(accountId)}/${action}`, token, {
      method: "POST", body: JSON.stringify(body),
    }));
    $("action-result").textContent = outcome.message;
  } catch (error) {
    $("action-result").textContent = `Refused: ${error.message}`;
  }
  const note = $("action-result").textContent;
  await show(accountId);
  $("action-result").textContent = note;
  await refresh().catch(() => {});
}

function wire() {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN, $("credential").value.trim());
    sessionStorage.setItem(NAME, $("operator-name").value.trim());
    $("credential").value = "";
    await open();
  });
  $("sign-out").addEventListener("click", () => {
    forgetToken(TOKEN);
    sessionStorage.removeItem(NAME);
    signIn();
  });
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    show($("account-search").value.trim());
  });
  $("retry").addEventListener("click", () => ask("retry"));
  $("cancel").addEventListener("click", () => ask("cancel"));
  $("confirm-dialog").addEventListener("close", () => {
    const dialog = $("confirm-dialog");
    if (dialog.returnValue === "confirm") carryOut(dialog.dataset.action);
  });
}

async function open() {
  token = accessToken(TOKEN);
  if (!token || !sessionStorage.getItem(NAME)) {
    if (token) $("credential").value = token;
    signIn();
    return;
  }
  try {
    await refresh();
  } catch (error) {
    if (!(error instanceof ApiFailure && [401, 403].includes(error.status))) {
      signIn(`The dashboard could not load: ${error.message}`);
    }
    return;
  }
  $("who").textContent = sessionStorage.getItem(NAME);
  $("ops-sign-in").hidden = true;
  $("sign-in-error").hidden = true;
  $("ops").hidden = false;
  $("sign-out").hidden = false;
}

wire();
open();
setInterval(() => { if (token && !$("ops").hidden) refresh().catch(() => {}); }, REFRESH_MS);
