/**
 * Dashboard live latency: append to a session file → that entry is in the page's DOM, in Chromium.
 *
 *   bun scripts/bench/dashboard-live.ts [--n 200] [--runs 1] [--gap-min 50] [--gap-max 150] [--base-entries 0]
 *                                       [--build] [--keep]
 *
 * One generated session (40 turns, or at least `--base-entries` lines: the live tail of a long session) is synced by `overlord start --foreground` on a fresh home; Chromium
 * (signed in with the daemon's one-time link) opens `#/sessions/<id>` and follows the tail. Then N user /
 * assistant lines, each with a unique `LIVEMARK-<i>-<rand>` in its text, are appended one write per line at
 * random 50–150 ms gaps. This process stamps `performance.timeOrigin + performance.now()` just before each
 * write; an init script in the page records the same clock when (a) a WebSocket message carrying the mark
 * arrives (WebSocket wrapped before the app loads) and (b) a MutationObserver sees a `[data-testid=entry]`
 * whose text holds the mark inserted. A read-only SQLite handle polls `files.offset` every ~1 ms for the
 * "stored" time (as live-latency.ts). Latency = DOM time − append time. The clock offset between the two
 * processes is measured (min-RTT `page.evaluate`) and reported, not subtracted (it is ~0: same machine clock).
 */
import { appendFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { launchChromium } from "@overlord/testkit/browser"
import { argValue } from "./corpus.ts"
import {
  type BenchWindow,
  buildWeb,
  distInfo,
  loadAvg,
  SessionWriter,
  sessionPath,
  signedInContext,
  signInCookies,
  wallNow,
} from "./dashboard-lib.ts"
import {
  daemonState,
  fmt,
  freshDir,
  now,
  openDbReadOnly,
  percentile,
  portFree,
  procSampler,
  record,
  sleep,
  startDaemon,
  waitFor,
} from "./lib.ts"

const args = process.argv.slice(2)
const N = argValue(args, "--n", 200)
const RUNS = argValue(args, "--runs", 1)
const GAP_MIN = argValue(args, "--gap-min", 50)
const GAP_MAX = argValue(args, "--gap-max", 150)
const BASE_ENTRIES = argValue(args, "--base-entries", 0)
if (args.includes("--build")) buildWeb()
const dist = distInfo()
if (dist.sourcesNewer)
  console.error(`note: apps/web/src is newer than the served build ${dist.bundle} (--build rebuilds)`)

// ---- data: one session of 40 turns --------------------------------------------------------------------
const home = freshDir("dash-live")
const claudeDir = join(home, "claude")
const cwd = "/home/dev/work/live-bench"
const sessionId = crypto.randomUUID()
const file = sessionPath(claudeDir, cwd, sessionId)
const writer = new SessionWriter(sessionId, cwd, Date.now() - 3_600_000)
require("node:fs").mkdirSync(join(file, ".."), { recursive: true })
{
  const base: string[] = []
  for (let i = 0; i < 40 || base.length < BASE_ENTRIES; i++) base.push(...writer.turn(i))
  for (let i = 0; i < base.length; i += 5000) appendFileSync(file, `${base.slice(i, i + 5000).join("\n")}\n`)
  console.error(`base session: ${base.length} lines, ${(Bun.file(file).size / 1e6).toFixed(1)} MB`)
}
const fileKey = file.slice(join(claudeDir, "projects").length + 1)

const MARK_RE = "LIVEMARK-\\d+-[a-z0-9]+"
/** Runs in the page before the app: WebSocket arrival and DOM insertion times per mark. */
const initScript = `(() => {
  const RE = new RegExp(${JSON.stringify(MARK_RE)}, "g")
  const clock = () => performance.timeOrigin + performance.now()
  const b = (window.__bench = { dom: {}, ws: {} })
  const note = (text, map, t) => { for (const m of (text || "").matchAll(RE)) if (!(m[0] in map)) map[m[0]] = t }
  const Native = window.WebSocket
  window.WebSocket = class extends Native {
    constructor(...a) {
      super(...a)
      this.addEventListener("message", (ev) => { if (typeof ev.data === "string") note(ev.data, b.ws, clock()) })
    }
  }
  new MutationObserver((muts) => {
    const t = clock()
    for (const mu of muts)
      for (const n of mu.addedNodes) {
        const el = n.nodeType === 1 ? n : n.parentElement
        if (!el) continue
        const entry = el.closest && el.closest('[data-testid="entry"]')
        if (entry) note(entry.textContent, b.dom, t)
        else if (n.nodeType === 1) for (const x of n.querySelectorAll('[data-testid="entry"]')) note(x.textContent, b.dom, t)
      }
  }).observe(document, { childList: true, subtree: true })
})()`

const daemon = startDaemon({ home, claudeDir, port: portFree() })
const sampler = procSampler(daemon.pid, 200)
const browser = await launchChromium()
const runs: Record<string, unknown>[] = []
const all: { dom: number[]; ws: number[]; stored: number[] } = { dom: [], ws: [], stored: [] }
let clockOffsetMs = Number.NaN
try {
  const db = await waitFor("the database", () => openDbReadOnly(home), 30_000, 20)
  await waitFor("initial sync", () => daemonState(home)?.bytesPending === 0 && daemonState(home)?.connected, 300_000)
  const offsetQ = db.query("SELECT offset FROM files WHERE file_key = ?")
  const offsetOf = () => (offsetQ.get(fileKey) as { offset: number } | null)?.offset ?? -1
  let size = Bun.file(file).size
  await waitFor("session stored", () => offsetOf() === size, 30_000)
  const url = await waitFor("Dashboard: url", () => daemon.dashboardUrl(), 30_000)
  const cookies = await signInCookies(browser, url)
  const ctx = await signedInContext(browser, cookies)
  await ctx.addInitScript(initScript)
  const page = await ctx.newPage()
  await page.goto(`${new URL(url).origin}/#/sessions/${encodeURIComponent(sessionId)}`)
  await page.waitForSelector('[data-testid="entry"]', { timeout: 60_000 })

  // Same clock? Offset of the page's clock vs ours, from the evaluate with the shortest round trip.
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < 10; i++) {
    const a = wallNow()
    const p = await page.evaluate(() => performance.timeOrigin + performance.now())
    const b = wallNow()
    if (b - a < best) {
      best = b - a
      clockOffsetMs = p - (a + b) / 2
    }
  }
  console.error(`clock offset page − bench ${fmt(clockOffsetMs, 2)} ms (±${fmt(best / 2, 2)})`)

  let seq = 0
  const append = (i: number) => {
    const mark = `LIVEMARK-${i}-${Math.random().toString(36).slice(2, 10)}`
    const text = `${mark} ${i % 2 === 0 ? "please check the watcher" : "the watcher now re-reads"} (${i})`
    const line = `${i % 2 === 0 ? writer.user(text) : writer.assistantText(text)}\n`
    size += Buffer.byteLength(line)
    const t = wallNow()
    appendFileSync(file, line)
    return { mark, t, end: size }
  }
  // Warm-up: the live subscription is up once one appended line shows.
  const warm = append(seq++)
  await page.waitForFunction((m) => m in (window as unknown as BenchWindow).__bench.dom, warm.mark, { timeout: 30_000 })
  await sleep(500)

  for (let run = 0; run < RUNS; run++) {
    const load = loadAvg()[0]!
    const sent: { mark: string; t: number; end: number; stored?: number }[] = []
    let done = false
    const poller = (async () => {
      let k = 0
      while (!done || k < sent.length) {
        const off = offsetOf()
        const t = wallNow()
        while (k < sent.length && sent[k]!.end <= off) sent[k++]!.stored = t
        await sleep(1)
      }
    })()
    const cpu0 = sampler.sample()!
    const t0 = now()
    for (let i = 0; i < N; i++) {
      sent.push(append(seq++))
      await sleep(GAP_MIN + Math.random() * (GAP_MAX - GAP_MIN))
    }
    done = true
    await Promise.race([poller, sleep(15_000)])
    const marks = sent.map((s) => s.mark)
    await page
      .waitForFunction((ms) => ms.every((m) => m in (window as unknown as BenchWindow).__bench.dom), marks, {
        timeout: 15_000,
      })
      .catch(() => console.error("some entries never reached the DOM within 15 s"))
    const wall = (now() - t0) / 1000
    const cpu1 = sampler.sample()!
    const seen = (await page.evaluate(() => (window as unknown as BenchWindow).__bench)) as {
      dom: Record<string, number>
      ws: Record<string, number>
    }
    const dom: number[] = []
    const ws: number[] = []
    const stored: number[] = []
    const domAfterWs: number[] = []
    for (const s of sent) {
      const d = seen.dom[s.mark]
      const w = seen.ws[s.mark]
      if (d !== undefined) dom.push(d - s.t)
      if (w !== undefined) ws.push(w - s.t)
      if (s.stored !== undefined) stored.push(s.stored - s.t)
      if (d !== undefined && w !== undefined) domAfterWs.push(d - w)
    }
    const pct = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b)
      return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.at(-1) ?? Number.NaN }
    }
    const r = {
      run: run + 1,
      load1: load,
      n: N,
      inDom: dom.length,
      missing: N - dom.length,
      dom: pct(dom),
      ws: pct(ws),
      stored: pct(stored),
      domAfterWs: pct(domAfterWs),
      daemonCpuPct: (100 * (cpu1.cpuS - cpu0.cpuS)) / wall,
      entriesInDom: await page.locator('[data-testid="entry"]').count(),
    }
    all.dom.push(...dom)
    all.ws.push(...ws)
    all.stored.push(...stored)
    runs.push(r)
    console.error(
      `run ${run + 1} (load ${fmt(load, 2)}): append→DOM p50 ${fmt(r.dom.p50)} p95 ${fmt(r.dom.p95)} p99 ${fmt(r.dom.p99)} max ${fmt(r.dom.max)} ms; →stored p50 ${fmt(r.stored.p50)} p99 ${fmt(r.stored.p99)}; →WS p50 ${fmt(r.ws.p50)} p99 ${fmt(r.ws.p99)}; WS→DOM p50 ${fmt(r.domAfterWs.p50)} p99 ${fmt(r.domAfterWs.p99)}; missing ${r.missing}`,
    )
    await sleep(1000)
  }
  await ctx.close()
  db.close()
} finally {
  await browser.close().catch(() => undefined)
  sampler.stop()
  await daemon.stop()
  if (!args.includes("--keep")) rmSync(home, { recursive: true, force: true })
}
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b)
const d = sorted(all.dom)
const result = {
  n: N,
  baseEntries: BASE_ENTRIES,
  runs: RUNS,
  gapMs: `${GAP_MIN}-${GAP_MAX}`,
  dist,
  clockOffsetMs,
  pooled: {
    n: d.length,
    p50Ms: percentile(d, 50),
    p95Ms: percentile(d, 95),
    p99Ms: percentile(d, 99),
    maxMs: d.at(-1),
    storedP50Ms: percentile(sorted(all.stored), 50),
    storedP99Ms: percentile(sorted(all.stored), 99),
    wsP50Ms: percentile(sorted(all.ws), 50),
    wsP99Ms: percentile(sorted(all.ws), 99),
  },
  perRun: runs,
}
record("dashboard-live", result)
console.log(JSON.stringify(result, null, 2))
