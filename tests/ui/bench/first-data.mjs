// Benchmark: the desktop's cold start to first data and its resident memory with 10,000 VMs
// loaded (issue 8: targets ≤ 1.5 s and ≤ 200 MB). Prints numbers; asserts nothing.
//
//   cargo build --release -p eio-server --bin eio --example bench_pages
//   (cd ui && npm run tauri -- build --bundles deb)      # target/release/eio-desktop
//   cd tests/ui && xvfb-run -a dbus-run-session -- npm run --silent bench [-- --runs 5] [--hosts 100 --vms-per-host 100]
//
// The estate: `bench_pages --keep` syncs a lab vCenter (10,000 VMs on 100 hosts) and 100
// iDRACs into a scratch database through the real connectors and leaves it there with an
// admin login. The app's config file names that database and login; the test PostgreSQL
// trusts loopback, so the app connects at once — what an operator whose password the
// keyring remembers sees when they open it. Each run starts the app afresh through
// tauri-driver and times, from the WebDriver "new session" request (which launches the
// app), until the dashboard shows the VM count: an upper bound on cold start to first data,
// since WebKitWebDriver's own start is inside it. Then it opens the inventory (10k VMs,
// virtualized table), searches it, and reads the window's RSS (the app plus WebKit's web and
// network processes).
//
// Environment as tests/ui/desktop/window.mjs (EIO_DESKTOP_BIN defaults to the release build
// here when there is one), plus DATABASE_URL (a superuser on the test PostgreSQL) and
// BENCH_PAGES (default <repo>/target/release/examples/bench_pages).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../harness.mjs";
import { DRIVER, NATIVE_DRIVER, psql, serveUi, startDriver, stopDriver, windowMemory, windowProcesses } from "../desktop/window.mjs";

const RELEASE_APP = join(REPO, "target/release/eio-desktop");
const APP = process.env.EIO_DESKTOP_BIN ?? (existsSync(RELEASE_APP) ? RELEASE_APP : join(REPO, "target/debug/eio-desktop"));
const BENCH_PAGES = process.env.BENCH_PAGES ?? join(REPO, "target/release/examples/bench_pages");
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
/** `--hosts N`, `--vms-per-host N` go to bench_pages (default 100 × 100 = 10,000 VMs). */
const ESTATE = ["--hosts", "--vms-per-host"].flatMap((f) => {
  const i = process.argv.indexOf(f);
  return i > 0 ? [f, process.argv[i + 1]] : [];
});

for (const [path, how] of [
  [APP, "cd ui && npm run tauri -- build --bundles deb (or cargo build -p eio-desktop)"],
  [BENCH_PAGES, "cargo build --release -p eio-server --example bench_pages"],
  [DRIVER, "run scripts/peers/tauri-driver"],
  [NATIVE_DRIVER, "run scripts/peers/tauri-driver (Debian webkit2gtk-driver)"],
]) {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${how}`);
}
if (!process.env.DISPLAY) throw new Error("no display: run under xvfb-run -a dbus-run-session");

const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
console.log(`app: ${APP}`);
console.log("seeding the lab estate (bench_pages --keep) …");
const seeded = execFileSync(BENCH_PAGES, ["--keep", "--rounds", "2", ...ESTATE], {
  encoding: "utf8",
  env: { ...process.env, DATABASE_URL: adminUrl },
  maxBuffer: 64 << 20,
});
const kept = JSON.parse(seeded.split("\n").find((l) => l.startsWith("kept: ")).slice("kept: ".length));

const dataDir = mkdtempSync(join(tmpdir(), "eio-desktop-bench-"));
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EIO_")));
const env = { ...clean, EIO_DATA_DIR: dataDir, EIO_CONFIG: join(dataDir, "config.toml") };
const appUrl = new URL(adminUrl);
appUrl.username = kept.login;
appUrl.pathname = `/${kept.database}`;
writeFileSync(env.EIO_CONFIG, `[database]\nurl = "${appUrl.toString()}"\n`);

// A debug build loads its UI from the dev address; a release build has it inside.
const ui = APP === RELEASE_APP ? null : await serveUi();
const results = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    const session = await startDriver(env, 10);
    try {
      const { wd } = session;
      const t0 = performance.now();
      await wd.start(APP);
      const vms = await wd.waitForText('[data-testid="stat-vms-value"]', /[1-9]/, 120_000);
      const firstData = performance.now() - t0;

      await wd.click(await wd.waitFor('[data-testid="nav-inventory"]'));
      const total = await wd.waitForText('[data-testid="inventory-total"]', /[1-9]/, 60_000);
      // The last VM by name: far outside the first screen of the table until searched for.
      const last = `lab-vm-${String(Number(total.replace(/\D/g, "")) - 1).padStart(5, "0")}`;
      const search = await wd.waitFor('[data-testid="inventory-search"] input, input[data-testid="inventory-search"]');
      await wd.type(search, last);
      await wd.waitForText('[data-testid="vm-table"]', new RegExp(last), 60_000);
      const memory = windowMemory();
      results.push({ firstData, memory });
      console.log(
        `run ${run}: first data (${vms.trim()} VMs on the dashboard) ${(firstData / 1000).toFixed(2)} s; ` +
          `after inventory + search: RSS eio-desktop ${memory.app.toFixed(0)} MiB + WebKit ${memory.webkit.toFixed(0)} MiB ` +
          `= ${(memory.app + memory.webkit).toFixed(0)} MiB, PSS ${memory.pss.toFixed(0)} MiB (RSS/PSS MiB: ${memory.each})`,
      );
    } finally {
      await stopDriver(session);
      // The next run starts cold: no window process of this one left (none counted twice).
      for (let i = 0; i < 200 && windowProcesses().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    }
  }
} finally {
  await new Promise((res) => (ui ? ui.close(res) : res()));
  try {
    psql(adminUrl, `DROP DATABASE IF EXISTS ${kept.database} WITH (FORCE)`);
    psql(adminUrl, `DROP ROLE IF EXISTS ${kept.login}`);
  } catch (e) {
    console.error(`cleanup: ${e.message}`);
  }
  rmSync(dataDir, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `\ncold start to first data, median of ${results.length}: ${(median(results.map((r) => r.firstData)) / 1000).toFixed(2)} s (target ≤ 1.5 s)`,
);
console.log(
  `window memory with 10k VMs, median: RSS ${median(results.map((r) => r.memory.app + r.memory.webkit)).toFixed(0)} MiB, ` +
    `PSS ${median(results.map((r) => r.memory.pss)).toFixed(0)} MiB (target ≤ 200 MB)`,
);
