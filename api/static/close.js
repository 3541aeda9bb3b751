// The close-account flow: what will happen, then initiate, then the status page. A closure already under way
// goes straight to its status page: there is nothing else to do with the account meanwhile.
import { ApiFailure, accessToken, api, bankDay, element, money, showSignedOut } from "./common.js";

const account = document.body.dataset.account;
const statusPage = `/account-closure/${encodeURIComponent(account)}`;
const $ = (id) => document.getElementById(id);

function refuse(text) {
  $("loading").hidden = true;
  $("refused-text").textContent = text;
  $("refused").hidden = false;
  const support = document.body.dataset.support;
  for (const link of document.querySelectorAll(".support-link")) {
    link.href = `mailto:${support}`;
    link.textContent = support;
  }
}

function describe(preview) {
  const bank = preview.bank_last4 ? `your bank account ••••${preview.bank_last4}` : "your linked bank account";
  const lines = [];
  if (preview.open_orders > 0) lines.push(`Your ${preview.open_orders} open order(s) are cancelled.`);
  if (preview.positions > 0) lines.push(`Your ${preview.positions} position(s) are sold at market prices.`);
  lines.push(
    `Your cash (${money(preview.cash)} now, plus what the sales bring) is sent to ${bank} ` +
    `in transfers of up to ${money(preview.daily_limit)}, one a day.`,
  );
  lines.push("Your account is closed once the last transfer has reached your bank.");
  $("what").replaceChildren(...lines.map((line) => element("li", line)));
  const estimate = preview.estimate;
  $("estimate-steps").replaceChildren(...estimate.steps.map((step) => element("li", step)));
  $("estimate").textContent =
    `Expected to be finished between ${bankDay(estimate.earliest)} and ${bankDay(estimate.latest)} ` +
    `(${estimate.transfers} transfer(s)).`;
}

async function confirm(token, event) {
  event.preventDefault();
  const button = $("confirm");
  button.disabled = true;
  button.textContent = "Starting…";
  try {
    await api(`/api/account-closure/initiate/${encodeURIComponent(account)}`, token, { method: "POST" });
    location.assign(statusPage);
  } catch (error) {
    $("confirm-error").textContent = `The closure did not start: ${error.message}`;
    $("confirm-error").hidden = false;
    button.disabled = false;
    button.textContent = "Close my account";
  }
}

async function start() {
  const token = accessToken();
  if (!token) {
    $("loading").hidden = true;
    showSignedOut("Sign in to the app to close your account.");
    return;
  }
  try {
    const data = await api("/api/account-closure/data", token);
    const mine = data.accounts.find((a) => a.account_id === account);
    if (!mine) {
      refuse("This account is not on your sign-in.");
      return;
    }
    if (mine.closure && mine.closure.phase !== "cancelled") {
      location.replace(statusPage);
      return;
    }
    const preview = await api(`/api/account-closure/preview/${encodeURIComponent(account)}`, token);
    if (!preview.eligible) {
      refuse(preview.refusal);
      return;
    }
    describe(preview);
    $("loading").hidden = true;
    $("preview").hidden = false;
    $("confirm-form").addEventListener("submit", (event) => confirm(token, event));
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) {
      $("loading").hidden = true;
      showSignedOut("Your sign-in has expired. Sign in again to close your account.");
      return;
    }
    refuse(`We could not load your account: ${error.message}`);
  }
}

start();
