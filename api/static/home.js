// The user's accounts. A closure under way takes over the app: the user is sent to its status page.
import { ApiFailure, accessToken, api, element, showSignedOut } from "./common.js";

const $ = (id) => document.getElementById(id);
const page = (id, suffix = "") => `/account-closure/${encodeURIComponent(id)}${suffix}`;

function entry(account) {
  const item = element("li", null, { class: "card" });
  item.append(element("h2", `Account ${account.account_id}`));
  const closure = account.closure;
  if (closure && closure.phase === "completed") {
    item.append(element("p", `Closed. Confirmation number ${closure.confirmation_number}.`));
    item.append(element("a", "See the closure", { href: page(account.account_id) }));
  } else {
    item.append(element("p", "Open."));
    item.append(element("a", "Close this account", { href: page(account.account_id, "/close"), class: "button" }));
  }
  return item;
}

async function start() {
  const token = accessToken();
  $("loading").hidden = true;
  if (!token) {
    showSignedOut("Sign in to the app to see your accounts.");
    return;
  }
  try {
    const data = await api("/api/account-closure/data", token);
    const underway = data.accounts.find((a) => a.closure && !["completed", "cancelled"].includes(a.closure.phase));
    if (underway) {
      location.replace(page(underway.account_id));
      return;
    }
    $("accounts").replaceChildren(...data.accounts.map(entry));
    $("accounts").hidden = false;
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) {
      showSignedOut("Your sign-in has expired.");
      return;
    }
    $("loading").hidden = false;
    $("loading").textContent = `We could not load your accounts: ${error.message}`;
  }
}

start();
