// The web app as a person uses it, in Debian's Chromium driven by Playwright: register, log a day,
// see it on the dashboard and in history, edit it, see a trend chart drawn from it, chat with the
// coach (a fake AI provider), end another session, make and revoke a personal token, turn two-step
// login on and off, export, import an Apple Health export, log out, log back in — at desktop and
// phone width, by keyboard where it matters, with every request checked to go to this server only,
// no console error, no Content-Security-Policy violation.
// Screenshots of each page go to SCREENSHOTS (target/browser-screenshots).
//
// Run by tests/browser/main.rs (`cargo test --test browser`), which starts the server and the fake
// provider and passes BASE_URL, SCREENSHOTS and CHROMIUM.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SCREENSHOTS || "target/browser-screenshots";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
assert.ok(BASE, "BASE_URL is required");
mkdirSync(SHOTS, { recursive: true });

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const step = (text) => console.log(`-- ${text}`);
const problems = [];
const requests = [];
let shot = 0;

async function screenshot(page, name) {
  shot += 1;
  const file = join(SHOTS, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`   screenshot ${file}`);
}

async function api(method, path, body, token) {
  const headers = { "content-type": "application/json", "user-agent": "Second device (scenario)" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${BASE}/api${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

// RFC 6238 as the server uses it (SHA-1, 6 digits, 30 s steps): the code of `step` for a base32 secret.
function totp(secret, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, "0");
}
const currentStep = () => Math.floor(Date.now() / 30000);

// The visible text of the card for `metric` on the Today page.
const card = (page, metric) => page.locator(`[data-metric="${metric}"] .value`).innerText();

const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
let current = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, locale: "en-GB", timezoneId: "America/Los_Angeles" });
  const page = await context.newPage();
  current = page;
  // Generous: a loaded 2-core machine can take seconds for what takes milliseconds idle.
  page.setDefaultTimeout(30000);
  page.on("console", (message) => {
    // Chromium logs every 4xx the app asked for (a refused password, say) as "Failed to load
    // resource"; those are expected. Any other error, and any CSP report, is not.
    const text = message.text();
    if (/Content.Security.Policy/i.test(text) || (message.type() === "error" && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(text))) {
      problems.push(`console: ${text}`);
    }
  });
  page.on("response", (response) => {
    if (response.status() >= 500) problems.push(`${response.status()} from ${response.url()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("request", (request) => requests.push(request.url()));
  // Nothing leaves this server (no CDN, no fonts, no analytics).
  await page.route("**/*", (route) => (route.request().url().startsWith(`${BASE}/`) ? route.continue() : route.abort()));

  step("the start page is the login page, with the keyboard's first stop the skip link");
  await page.goto(`${BASE}/`);
  await page.waitForURL(/\/app\/login/);
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to content");
  await screenshot(page, "login");

  step("register: the password rules are shown, a refused password says why");
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByRole("heading", { name: "Create an account" }).waitFor();
  const email = `person-${Date.now()}@example.com`;
  const password = "Walk-the-dog-42";
  await page.getByLabel("Your name").fill("Robin Example");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill("Password1");
  await page.getByRole("button", { name: "Create account" }).click();
  const refusal = page.locator("[data-form-alert]");
  await refusal.getByText("Password is too easy to guess").waitFor();
  assert.equal(await page.getByLabel("Password", { exact: true }).getAttribute("aria-invalid"), "true");
  await screenshot(page, "register-refused");
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/app\/today/);
  await page.getByText("Nothing logged today yet").waitFor();
  await page.getByText("Welcome, Robin Example!").waitFor();
  await screenshot(page, "today-empty");

  step("log today: every kind of field");
  await page.getByRole("link", { name: "Log today" }).first().click();
  await page.waitForURL(/\/app\/log/);
  // "Today" is the profile's (UTC by default), not the browser's (Los Angeles here).
  assert.equal(await page.getByLabel("Day", { exact: true }).inputValue(), new Date().toISOString().slice(0, 10));
  await page.getByLabel("Calories eaten").fill("2100");
  await page.getByLabel("Sleep").fill("7.5");
  await page.getByLabel("Steps").fill("10432");
  await page.getByRole("spinbutton", { name: "Heart rate (beats per minute)", exact: true }).fill("62");
  await page.getByLabel("Water").fill("6");
  await page.getByText("I worked out").click();
  await page.locator("label", { hasText: "Good" }).click();
  await page.getByRole("button", { name: "+ Headache" }).click();
  await page.getByLabel("Symptoms", { exact: true }).fill("Sore knee");
  await page.getByLabel("Symptoms", { exact: true }).press("Enter");
  await page.getByRole("button", { name: "+ Add food" }).click();
  await page.getByLabel("Food", { exact: true }).fill("Porridge with berries");
  await page.getByLabel("Meal", { exact: true }).selectOption("breakfast");
  await page.locator("[data-path='foodIntake[0].calories']").fill("420");
  await page.getByLabel("Notes").fill("Long walk by the river");
  await screenshot(page, "log-today");
  await page.getByRole("button", { name: "Save day" }).click();
  await page.waitForURL(/\/app\/today/);
  await page.getByText("Saved today.").waitFor();

  step("the dashboard shows the day");
  assert.match(await card(page, "calories"), /2,100\s*kcal/);
  assert.match(await card(page, "sleep"), /7\.5\s*h/);
  assert.match(await card(page, "steps"), /10,432\s*steps/);
  assert.match(await card(page, "heartRate"), /62\s*bpm/);
  assert.match(await card(page, "mood"), /Good/);
  assert.match(await card(page, "workouts"), /Yes/);
  await page.getByText("Sore knee").waitFor();
  await page.getByText("Breakfast: Porridge with berries (420 kcal)").waitFor();
  await screenshot(page, "today");

  step("history lists it; edit it from there");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
  await page.waitForURL(/\/app\/history/);
  const day = page.locator("details.entry").first();
  // A preset range shows no date fields; "Custom" does.
  assert.equal(await page.getByLabel("From").isVisible(), false);
  await day.locator("summary").click();
  await day.getByText("Long walk by the river").waitFor();
  assert.match(await day.locator("summary").innerText(), /10,432 steps/);
  await screenshot(page, "history");
  await day.getByRole("link", { name: /^Edit / }).click();
  await page.waitForURL(/\/app\/log\?date=/);
  assert.equal(await page.getByLabel("Steps").inputValue(), "10432");
  assert.equal(await page.getByLabel("Notes").inputValue(), "Long walk by the river");
  await page.getByLabel("Steps").fill("12000");
  await page.getByRole("button", { name: "Remove Headache" }).click();
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.waitForURL(/\/app\/today/);
  assert.match(await card(page, "steps"), /12,000\s*steps/);
  assert.equal(await page.getByText("Headache").count(), 0);

  step("a field the server refuses is marked where it is");
  await page.getByRole("link", { name: "Edit today" }).click();
  await page.getByLabel("Sleep").fill("25");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.locator("[data-form-alert]").getByText("Sleep must be a number between 0 and 24").waitFor();
  assert.equal(await page.getByLabel("Sleep").getAttribute("aria-invalid"), "true");
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("name")), "sleep");
  await screenshot(page, "log-refused");

  step("delete a day from history: asked once, naming the day; Escape keeps it");
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("ht.session")).access);
  const lastWeek = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
  assert.equal((await api("POST", "/entries", { date: lastWeek, steps: 4000, notes: "to be deleted" }, token)).status, 201);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
  await page.waitForURL(/\/app\/history/);
  const old = page.locator(`li[data-day="${lastWeek}"]`);
  await old.locator("summary").click();
  await old.getByRole("button", { name: /^Delete / }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("heading", { name: /^Delete .*\?$/ }).waitFor();
  await screenshot(page, "history-delete");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  assert.equal(await old.count(), 1);
  await old.getByRole("button", { name: /^Delete / }).click();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await old.waitFor({ state: "detached" });
  await page.getByText(/^Deleted /).first().waitFor();
  assert.equal(await page.locator("details.entry").count(), 1);
  assert.equal((await api("GET", `/entries?from=${lastWeek}&to=${lastWeek}`, null, token)).body.length, 0);

  step("trends draw the day");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Trends" }).click();
  await page.waitForURL(/\/app\/trends/);
  const steps = page.locator("figure.chart", { has: page.locator("[data-chart=steps]") });
  await steps.locator("canvas").waitFor();
  await steps.getByText("Show as a table").click();
  await steps.getByRole("cell", { name: "12,000" }).waitFor();
  await page.getByText("Week", { exact: true }).click();
  await page.waitForURL(/bucket=week/);
  await page.locator("[data-chart=steps] canvas").waitFor();
  await screenshot(page, "trends");

  step("the coach answers as it streams");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Coach" }).click();
  await page.waitForURL(/\/app\/coach/);
  const streamed = page.waitForResponse((r) => r.url().endsWith("/api/ai/chat") && (r.headers()["content-type"] || "").startsWith("text/event-stream"));
  await page.getByLabel("Your message").fill("How did I sleep this week?");
  await page.getByLabel("Your message").press("Enter");
  // Words appear while the answer is still being written.
  await page.locator('.message.assistant[aria-busy="true"] .text:not(:empty)').waitFor();
  await streamed;
  // Done: no longer busy, and the whole answer is there.
  await page.waitForFunction(() => !document.querySelector(".message.assistant[aria-busy]"));
  const reply = page.locator(".message.assistant").last();
  assert.match(await reply.locator(".text").innerText(), /^Keep it up! \(fake answer \d+\)$/);
  await page.getByRole("button", { name: "Write my weekly report" }).click();
  await page.locator("#weekly-report .report").getByText("fake answer").waitFor();
  await screenshot(page, "coach");
  await page.reload();
  await page.locator(".message.user", { hasText: "How did I sleep this week?" }).waitFor();
  await page.getByRole("button", { name: "Clear history" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Clear history" }).click();
  await page.getByText("History cleared.").waitFor();
  assert.equal(await page.locator(".message").count(), 0);
  assert.equal((await api("GET", "/ai/history", null, await page.evaluate(() => JSON.parse(localStorage.getItem("ht.session")).access))).body.count, 0);

  step("account: end the login of another device");
  const other = await api("POST", "/auth/login", { email, password });
  assert.equal(other.status, 200);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account" }).click();
  await page.waitForURL(/\/app\/account/);
  const sessions = page.locator("[data-session]");
  await sessions.nth(1).waitFor();
  assert.equal(await sessions.count(), 2);
  await page.locator("[data-current=true]").getByText("this device").waitFor();
  await screenshot(page, "account");
  await page.locator("[data-session]:not([data-current])").getByRole("button", { name: /^Log out / }).click();
  await page.locator("#sessions").getByText("is logged out").waitFor();
  assert.equal(await sessions.count(), 1);
  assert.equal((await api("POST", "/auth/refresh", { refreshToken: other.body.refreshToken })).status, 401);
  assert.equal((await api("GET", "/entries", null, other.body.accessToken)).status, 401);

  step("account: a personal token is shown once, works, and ends when revoked");
  const tokens = page.locator("#tokens");
  await tokens.getByLabel("Name").fill("Phone shortcut");
  await tokens.getByLabel("Write entries").check();
  await tokens.getByRole("button", { name: "Create token" }).click();
  const secret = await tokens.locator(".secret").innerText();
  assert.match(secret, /^htp_[0-9a-f]{64}$/);
  await tokens.getByRole("list", { name: "Your personal tokens" }).getByText("entries:read, entries:write").waitFor();
  await screenshot(page, "account-token");
  // The form is ready for the next token, with its defaults.
  assert.equal(await tokens.getByLabel("Name").inputValue(), "");
  assert.ok(await tokens.getByLabel("Read entries").isChecked());
  assert.ok(!(await tokens.getByLabel("Write entries").isChecked()));
  assert.equal(await tokens.getByLabel("Expires after").inputValue(), "90");
  assert.equal((await api("GET", "/entries", null, secret)).status, 200);
  assert.equal((await api("GET", "/auth/tokens", null, secret)).status, 403);
  await tokens.getByRole("button", { name: "Revoke Phone shortcut" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await tokens.getByText("“Phone shortcut” is revoked.").waitFor();
  await tokens.getByText("No personal tokens.").waitFor();
  assert.equal(await tokens.locator(".secret").count(), 0, "a revoked token is no longer shown");
  assert.equal((await api("GET", "/entries", null, secret)).status, 401);

  step("two-step login: set up with the app's code, log in elsewhere with a recovery code, turn off");
  const twoFactor = page.locator("#two-factor");
  await twoFactor.getByLabel("Password").fill(password);
  await twoFactor.getByRole("button", { name: "Set up two-step login" }).click();
  const totpSecret = await twoFactor.locator(".secret").innerText();
  const enabledAt = currentStep();
  await twoFactor.getByLabel("Code the app shows").fill(totp(totpSecret, enabledAt));
  await twoFactor.getByRole("button", { name: "Turn on" }).click();
  await twoFactor.getByText("Two-step login is on.").waitFor();
  const recoveryCodes = await twoFactor.locator("ul.secret li").allInnerTexts();
  assert.equal(recoveryCodes.length, 10);
  await screenshot(page, "account-two-step");
  await twoFactor.getByRole("button", { name: "Done" }).click();
  const otherBrowser = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
  const second = await otherBrowser.newPage();
  second.setDefaultTimeout(30000);
  await second.goto(`${BASE}/app/login`);
  await second.getByLabel("Email").fill(email);
  await second.getByLabel("Password").fill(password);
  await second.getByRole("button", { name: "Log in" }).click();
  await second.getByRole("heading", { name: "Two-step verification" }).waitFor();
  assert.equal(await second.evaluate(() => localStorage.getItem("ht.session")), null);
  await second.getByRole("button", { name: "Use a recovery code instead" }).click();
  await second.getByLabel("Recovery code").fill(recoveryCodes[0]);
  await screenshot(second, "login-recovery-code");
  await second.getByRole("button", { name: "Verify" }).click();
  await second.waitForURL(/\/app\/today/);
  await otherBrowser.close();
  // A code is taken once: turning off uses the next step's code (one step of drift is accepted).
  await twoFactor.getByLabel("Password").fill(password);
  await twoFactor.getByLabel("Code from your authenticator app").fill(totp(totpSecret, Math.max(enabledAt + 1, currentStep())));
  await twoFactor.getByRole("button", { name: "Turn off" }).click();
  await twoFactor.getByText("Two-step login is off.").waitFor();
  assert.equal((await api("POST", "/auth/login", { email, password })).status, 200);

  step("profile: a time zone from the server's list");
  await page.getByLabel("Time zone").fill("Asia/Kolkata");
  await page.getByRole("button", { name: "Save profile" }).click();
  await page.locator("#profile").getByText("Profile saved.").waitFor();
  assert.equal((await api("GET", "/auth/me", null, await page.evaluate(() => JSON.parse(localStorage.getItem("ht.session")).access))).body.user.timezone, "Asia/Kolkata");
  // Back to UTC: the steps below expect "today" to be the day logged above at any hour.
  await page.getByLabel("Time zone").fill("UTC");
  // Wait for the save registered before the click: a fast answer would otherwise be missed.
  const savedUtc = page.waitForResponse((r) => r.url().endsWith("/api/auth/me") && r.request().method() === "PATCH");
  await page.getByRole("button", { name: "Save profile" }).click();
  assert.equal((await savedUtc).status(), 200);

  step("export: the JSON file holds the day");
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export JSON" }).click();
  const file = await (await download).path();
  const exported = JSON.parse(readFileSync(file, "utf8"));
  assert.equal(exported.format, "healthtracker-export");
  assert.equal(exported.entries.length, 1);
  assert.equal(exported.entries[0].steps, 12000);
  assert.equal(exported.entries[0].sleepHours, 7.5);

  step("Apple Health: the export.xml from the phone fills its days");
  const apple = page.locator("#apple-health");
  await apple.getByLabel("export.zip or export.xml").setInputFiles("../fixtures/apple-health/export.xml");
  await apple.getByRole("button", { name: "Import from Apple Health" }).click();
  const imported = apple.getByText(/^Read 28 records: \d+ new days?, 0 updated, 0 unchanged/);
  await imported.waitFor();
  await screenshot(page, "account-apple-health");
  const access = await page.evaluate(() => JSON.parse(localStorage.getItem("ht.session")).access);
  const days = (await api("GET", "/entries?limit=10", null, access)).body;
  assert.ok(days.some((day) => day.date.startsWith("2024-06-01") && day.steps > 0), JSON.stringify(days));

  step("log out, and back in");
  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await page.waitForURL(/\/app\/login/);
  await page.getByText("You are logged out.").waitFor();
  await screenshot(page, "logged-out");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/app\/today/);
  assert.match(await card(page, "steps"), /12,000\s*steps/);

  step("a login that cannot be refreshed ends on the login page, with a message, and comes back");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
  await page.waitForURL(/\/app\/history/);
  await page.evaluate(() => {
    const session = JSON.parse(localStorage.getItem("ht.session"));
    session.access = "x.eyJleHAiOjF9.x";
    session.refresh = "not-a-refresh-token";
    localStorage.setItem("ht.session", JSON.stringify(session));
  });
  await page.reload();
  await page.waitForURL(/\/app\/login\?next=%2Fapp%2Fhistory/);
  await page.getByText("Your session ended — please log in again.").waitFor();
  await screenshot(page, "session-ended");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/app\/history/);

  step("tokens are refreshed before they expire");
  const before = await page.evaluate(() => JSON.parse(localStorage.getItem("ht.session")).access);
  await page.clock.install();
  await page.reload();
  await page.getByRole("heading", { name: "History" }).waitFor();
  await page.clock.fastForward("14:00");
  await page.waitForFunction((old) => JSON.parse(localStorage.getItem("ht.session")).access !== old, before);
  await page.clock.fastForward("05:00");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Today" }).click();
  await page.waitForURL(/\/app\/today/);
  assert.match(await card(page, "steps"), /12,000\s*steps/);

  step("dark mode");
  await page.emulateMedia({ colorScheme: "dark" });
  await page.reload();
  await page.locator("[data-metric=steps]").waitFor();
  await screenshot(page, "today-dark");
  await page.emulateMedia({ colorScheme: "light" });

  step("phone width: the pages fit 360 px");
  await page.setViewportSize({ width: 360, height: 780 });
  for (const [path, name] of [["/app/today", "phone-today"], ["/app/log", "phone-log"], ["/app/history", "phone-history"], ["/app/trends", "phone-trends"]]) {
    await page.goto(`${BASE}${path}`);
    await page.locator("main h1").waitFor();
    await page.waitForLoadState("networkidle");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${path} is ${overflow}px wider than a phone`);
    await screenshot(page, name);
  }

  step("nothing was fetched from elsewhere; no console error; no CSP violation");
  const elsewhere = requests.filter((url) => !url.startsWith(`${BASE}/`) && !url.startsWith("blob:") && !url.startsWith("data:"));
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(problems, []);
  console.log(`${requests.length} requests, all to ${BASE}`);
} catch (error) {
  // What the page showed when it went wrong, and what it said.
  if (current) await current.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => {});
  console.log(problems.join("\n"));
  throw error;
} finally {
  await browser.close();
}
