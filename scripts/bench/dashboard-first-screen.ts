/**
 * Dashboard time to first screen, in Chromium, on a 100,000-entry session and a 10,000-session list.
 *
 *   bun scripts/bench/dashboard-first-screen.ts [--entries 100000] [--sessions 10000] [--loads 5] [--build] [--keep]
 *
 * Data (generated fresh every run, realistic Claude Code records with fresh ids, see dashboard-lib.ts): one
 * session of exactly `--entries` lines (prompts, thinking + Bash tool_use, tool_result, text answers; the last
 * line is an assistant text holding a unique TAILMARK) and `--sessions` small sessions (one turn each) over
 * 200 project folders. `overlord start --foreground` on a fresh home syncs them; we wait for the state file's
 * `bytesPending` 0 with every file tracked AND the search indexer caught up (so it does not compete).
 *
 * Then `--loads` cold and `--loads` warm page loads of each view: cold = a new browser context (empty HTTP
 * cache) signed in with the cookie from the daemon's one-time link; warm = another page in the same context
 * (bundle from the HTTP cache, server already warm). An init script (runs before the app) checks on every
 * DOM mutation and every animation frame, and records `performance.now()` (0 = navigation start):
 *   session view: first `[data-testid=entry]` intersecting the viewport; the TAILMARK entry intersecting it;
 *   session list: first `[data-testid=session-row]` intersecting the viewport.
 * Also per load: Navigation/Resource Timing for the bundle and every /api/v1 request, Chrome's
 * Performance.getMetrics (script, layout, style time), the number of rendered rows (virtualization).
 * Server memory: /proc/<pid> RSS before, peak while serving the views, and VmHWM. API latency is also
 * measured directly from this process (bearer token, 5× each).
 */
import { closeSync, mkdirSync, openSync, rmSync, utimesSync, writeSync } from "node:fs"
import { dirname, join } from "node:path"
import { launchChromium, type Page } from "@overlord/testkit/browser"
import { argValue } from "./corpus.ts"
import {
  type BenchWindow,
  buildWeb,
  distInfo,
  loadAvg,
  median,
  SessionWriter,
  sessionPath,
  signedInContext,
  signInCookies,
} from "./dashboard-lib.ts"
import {
  credentials,
  daemonState,
  fmt,
  freshDir,
  mb,
  now,
  openDbReadOnly,
  portFree,
  readProc,
  record,
  sleep,
  startDaemon,
  waitFor,
} from "./lib.ts"

const args = process.argv.slice(2)
const ENTRIES = argValue(args, "--entries", 100_000)
const SESSIONS = argValue(args, "--sessions", 10_000)
const LOADS = argValue(args, "--loads", 5)
if (args.includes("--build")) buildWeb()
const dist = distInfo()
if (dist.sourcesNewer)
  console.error(`note: apps/web/src is newer than the served build ${dist.bundle} (--build rebuilds)`)

// ---- data -------------------------------------------------------------------------------------------
const home = freshDir("dash-first")
const claudeDir = join(home, "claude")
const tGen = now()
let bytes = 0
const writeFile = (path: string, lines: string[], mtimeMs: number) => {
  mkdirSync(dirname(path), { recursive: true })
  const fd = openSync(path, "w")
  for (let i = 0; i < lines.length; i += 5000) bytes += writeSync(fd, `${lines.slice(i, i + 5000).join("\n")}\n`)
  closeSync(fd)
  utimesSync(path, mtimeMs / 1000, mtimeMs / 1000)
}
const bigId = crypto.randomUUID()
const bigCwd = "/home/dev/work/big-session"
const tailMark = `TAILMARK-${Math.random().toString(36).slice(2, 12)}`
{
  const w = new SessionWriter(bigId, bigCwd, Date.now() - 10 * 86_400_000)
  const lines: string[] = []
  for (let i = 0; lines.length < ENTRIES - 1; i++) lines.push(...w.turn(i))
  lines.length = ENTRIES - 1
  lines.push(w.assistantText(`${tailMark}: the last answer of the session.`))
  writeFile(sessionPath(claudeDir, bigCwd, bigId), lines, Date.now() - 60_000)
}
for (let s = 0; s < SESSIONS; s++) {
  const id = crypto.randomUUID()
  const cwd = `/home/dev/work/proj-${String(s % 200).padStart(3, "0")}`
  const start = Date.now() - (SESSIONS - s) * 600_000 - 3_600_000
  const w = new SessionWriter(id, cwd, start)
  writeFile(sessionPath(claudeDir, cwd, id), w.turn(s), start + 60_000)
}
const files = SESSIONS + 1
console.error(`generated ${files} files, ${fmt(mb(bytes))} MB in ${fmt((now() - tGen) / 1000)} s`)

// ---- sync ---------------------------------------------------------------------------------------------
const daemon = startDaemon({ home, claudeDir, port: portFree() })
const browser = await launchChromium()
const END_SEQ = Number.MAX_SAFE_INTEGER

/** Runs in every page before the app: first-screen marks on each mutation and frame, 0 = navigation start. */
const initScript = `(() => {
  const b = (window.__bench = { marks: {} })
  const vh = () => window.innerHeight
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.height > 0 && r.bottom > 0 && r.top < vh() }
  const tail = ${JSON.stringify(tailMark)}
  const check = () => {
    const t = performance.now()
    const m = b.marks
    if (m.firstEntry === undefined) { for (const e of document.querySelectorAll('[data-testid="entry"]')) if (visible(e)) { m.firstEntry = t; break } }
    if (m.tail === undefined) { for (const e of document.querySelectorAll('[data-testid="entry"]')) if (e.textContent.includes(tail) && visible(e)) { m.tail = t; break } }
    if (m.firstRow === undefined) { for (const e of document.querySelectorAll('[data-testid="session-row"]')) if (visible(e)) { m.firstRow = t; break } }
  }
  new MutationObserver(check).observe(document, { childList: true, subtree: true })
  const frame = () => { check(); if (performance.now() < 60000) requestAnimationFrame(frame) }
  requestAnimationFrame(frame)
})()`

interface Load {
  view: "session" | "list"
  kind: "cold" | "warm"
  load1: number
  firstMs: number
  tailMs?: number
  navResponseEndMs: number
  domContentLoadedMs: number
  bundleEndMs: number
  api: { path: string; startMs: number; endMs: number; durMs: number; kb: number }[]
  lastApiEndMs: number
  /** End of the request the first screen waits for: the tail page (session) or the first list page. */
  keyApiEndMs: number
  scriptMs: number
  layoutMs: number
  styleMs: number
  taskMs: number
  jsHeapMb: number
  renderedRows: number
}

async function measure(page: Page, view: Load["view"], kind: Load["kind"], url: string): Promise<Load> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send("Performance.enable")
  const load1 = loadAvg()[0]!
  await page.goto(url, { waitUntil: "commit" })
  const want = view === "session" ? ["firstEntry", "tail"] : ["firstRow"]
  await page.waitForFunction(
    (keys) => keys.every((k) => (window as unknown as BenchWindow).__bench.marks[k] !== undefined),
    want,
    {
      timeout: 60_000,
      polling: 50,
    },
  )
  await sleep(300) // let trailing requests finish so Resource Timing is complete
  const t = (await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming
    const res = performance.getEntriesByType("resource") as PerformanceResourceTiming[]
    return {
      marks: (window as unknown as BenchWindow).__bench.marks,
      navResponseEnd: nav.responseEnd,
      dcl: nav.domContentLoadedEventEnd,
      bundleEnd: Math.max(0, ...res.filter((r) => /\/assets\/index-.*\.js/.test(r.name)).map((r) => r.responseEnd)),
      api: res
        .filter((r) => r.name.includes("/api/v1/"))
        .map((r) => ({
          path:
            new URL(r.name).pathname.replace(/[0-9a-f-]{36}/, "<id>") +
            new URL(r.name).search.replace(/cursor=[^&]*/, "cursor=…"),
          startMs: r.startTime,
          endMs: r.responseEnd,
          durMs: r.responseEnd - r.startTime,
          kb: r.encodedBodySize / 1024,
        })),
      rows: document.querySelectorAll(
        '[data-testid="entry"], [data-testid="record-group"], [data-testid="session-row"]',
      ).length,
    }
    // biome-ignore lint/suspicious/noExplicitAny: the page's raw measurements
  })) as any
  const { metrics } = (await cdp.send("Performance.getMetrics")) as { metrics: { name: string; value: number }[] }
  const metric = (n: string) => metrics.find((m) => m.name === n)?.value ?? Number.NaN
  await cdp.detach()
  const firstMs = view === "session" ? t.marks.firstEntry : t.marks.firstRow
  const before = t.api.filter((a: Load["api"][number]) => a.startMs < firstMs)
  return {
    view,
    kind,
    load1,
    firstMs,
    tailMs: t.marks.tail,
    navResponseEndMs: t.navResponseEnd,
    domContentLoadedMs: t.dcl,
    bundleEndMs: t.bundleEnd,
    api: t.api,
    lastApiEndMs: Math.max(0, ...before.map((a: Load["api"][number]) => a.endMs)),
    keyApiEndMs: Math.max(
      0,
      ...t.api
        .filter((a: Load["api"][number]) =>
          view === "session" ? a.path.includes("/entries") : a.path.startsWith("/api/v1/sessions?"),
        )
        .map((a: Load["api"][number]) => a.endMs),
    ),
    scriptMs: metric("ScriptDuration") * 1000,
    layoutMs: metric("LayoutDuration") * 1000,
    styleMs: metric("RecalcStyleDuration") * 1000,
    taskMs: metric("TaskDuration") * 1000,
    jsHeapMb: metric("JSHeapUsedSize") / 1e6,
    renderedRows: t.rows,
  }
}

let result: Record<string, unknown> = {}
try {
  const tSync = now()
  const db = await waitFor("the database", () => openDbReadOnly(home), 30_000, 20)
  let lastLog = now()
  await waitFor(
    "synced (bytesPending 0, every file tracked)",
    () => {
      if (daemon.child.exitCode !== null) throw new Error(`daemon exited:\n${daemon.output()}`)
      const s = daemonState(home)
      if (now() - lastLog > 5000) {
        lastLog = now()
        console.error(
          `  sync ${fmt((now() - tSync) / 1000, 0)} s: ${s?.filesTracked ?? 0}/${files} files, ${s?.bytesPending} B pending`,
        )
      }
      return s?.connected && s.bytesPending === 0 && s.filesTracked === files
    },
    600_000,
    100,
  )
  const syncedS = (now() - tSync) / 1000
  const hwmAfterSyncKb = readProc(daemon.pid)?.hwmKb ?? 0
  await waitFor(
    "search index caught up",
    () => {
      const c = db.query("SELECT CAST(value AS INTEGER) AS c FROM meta WHERE key = 'search_cursor'").get() as {
        c: number
      } | null
      const m = db.query("SELECT coalesce(max(seq), 0) AS m FROM entries").get() as { m: number }
      return (c?.c ?? 0) >= m.m
    },
    600_000,
    200,
  )
  const searchableS = (now() - tSync) / 1000
  db.close()
  console.error(`synced in ${fmt(syncedS)} s, searchable in ${fmt(searchableS)} s`)
  await sleep(2000)

  // API latency straight from here (bearer token), median of 5, after one unmeasured call each.
  const cred = credentials(home)!
  const apiTimes: Record<string, { medianMs: number; kb: number }> = {}
  for (const path of [
    `/sessions/${bigId}/entries?before=${END_SEQ}&limit=500`,
    `/sessions/${bigId}`,
    "/sessions?limit=100",
    "/projects",
    "/machines",
  ]) {
    const ts: number[] = []
    let size = 0
    for (let i = 0; i < 6; i++) {
      const t0 = now()
      const res = await fetch(`${cred.serverUrl}/api/v1${path}`, {
        headers: { authorization: `Bearer ${cred.apiToken}` },
      })
      size = (await res.arrayBuffer()).byteLength
      if (!res.ok) throw new Error(`${path}: ${res.status}`)
      if (i > 0) ts.push(now() - t0)
    }
    apiTimes[path.replace(bigId, "<big>").replace(String(END_SEQ), "MAX")] = { medianMs: median(ts), kb: size / 1024 }
  }
  console.error("API (direct):", JSON.stringify(apiTimes))

  const url = await waitFor("Dashboard: url", () => daemon.dashboardUrl(), 30_000)
  const origin = new URL(url).origin
  const cookies = await signInCookies(browser, url)
  const rssBefore = readProc(daemon.pid)!
  // Peak RSS while serving the views only (lib's procSampler folds in VmHWM, which includes the sync).
  let peakServingKb = rssBefore.rssKb
  const sampler = setInterval(() => {
    peakServingKb = Math.max(peakServingKb, readProc(daemon.pid)?.rssKb ?? 0)
  }, 50)
  const loads: Load[] = []
  const views = [
    { view: "session" as const, url: `${origin}/#/sessions/${encodeURIComponent(bigId)}` },
    { view: "list" as const, url: `${origin}/#/sessions` },
  ]
  for (let i = 0; i < LOADS; i++) {
    for (const v of views) {
      // cold: new context (empty cache) → first page; warm: a second page in the same context.
      const ctx = await signedInContext(browser, cookies)
      await ctx.addInitScript(initScript)
      for (const kind of ["cold", "warm"] as const) {
        const page = await ctx.newPage()
        const l = await measure(page, v.view, kind, v.url)
        loads.push(l)
        console.error(
          `${v.view} ${kind} #${i + 1} (load ${fmt(l.load1, 2)}): first ${fmt(l.firstMs, 0)} ms${l.tailMs !== undefined ? `, tail ${fmt(l.tailMs, 0)} ms` : ""}; bundle ${fmt(l.bundleEndMs, 0)}, DCL ${fmt(l.domContentLoadedMs, 0)}, last API ${fmt(l.lastApiEndMs, 0)}, key API ${fmt(l.keyApiEndMs, 0)}; script ${fmt(l.scriptMs, 0)} layout ${fmt(l.layoutMs, 0)} style ${fmt(l.styleMs, 0)} ms; rows ${l.renderedRows}; ${l.api.map((a) => `${a.path} ${fmt(a.durMs, 0)}ms/${fmt(a.kb, 0)}KB`).join(", ")}`,
        )
        await page.close()
      }
      await ctx.close()
    }
  }
  clearInterval(sampler)
  const rssAfter = readProc(daemon.pid)!
  const summary = (view: Load["view"], kind: Load["kind"]) => {
    const ls = loads.filter((l) => l.view === view && l.kind === kind)
    const med = (f: (l: Load) => number) => median(ls.map(f))
    const apiMed: Record<string, number> = {}
    for (const p of new Set(ls.flatMap((l) => l.api.map((a) => a.path))))
      apiMed[p] = median(ls.flatMap((l) => l.api.filter((a) => a.path === p).map((a) => a.durMs)))
    return {
      n: ls.length,
      firstMs: med((l) => l.firstMs),
      firstMinMaxMs: [Math.min(...ls.map((l) => l.firstMs)), Math.max(...ls.map((l) => l.firstMs))],
      tailMs: view === "session" ? med((l) => l.tailMs ?? Number.NaN) : undefined,
      navResponseEndMs: med((l) => l.navResponseEndMs),
      bundleEndMs: med((l) => l.bundleEndMs),
      domContentLoadedMs: med((l) => l.domContentLoadedMs),
      lastApiEndMs: med((l) => l.lastApiEndMs),
      keyApiEndMs: med((l) => l.keyApiEndMs),
      afterKeyApiMs: med((l) => l.firstMs - l.keyApiEndMs),
      scriptMs: med((l) => l.scriptMs),
      layoutMs: med((l) => l.layoutMs),
      styleMs: med((l) => l.styleMs),
      jsHeapMb: med((l) => l.jsHeapMb),
      renderedRows: med((l) => l.renderedRows),
      apiMedianMs: apiMed,
      load1: ls.map((l) => l.load1),
    }
  }
  result = {
    data: { entries: ENTRIES, sessions: SESSIONS, files, mb: mb(bytes), syncedS, searchableS },
    dist,
    apiDirect: apiTimes,
    session: { cold: summary("session", "cold"), warm: summary("session", "warm") },
    list: { cold: summary("list", "cold"), warm: summary("list", "warm") },
    serverMemory: {
      rssBeforeViewsMb: rssBefore.rssKb / 1024,
      anonBeforeMb: rssBefore.anonKb / 1024,
      peakRssWhileServingMb: Math.max(peakServingKb, rssAfter.rssKb) / 1024,
      rssAfterViewsMb: rssAfter.rssKb / 1024,
      anonAfterMb: rssAfter.anonKb / 1024,
      vmHwmAfterSyncMb: hwmAfterSyncKb / 1024,
      vmHwmAfterViewsMb: rssAfter.hwmKb / 1024,
    },
    loads,
  }
} finally {
  await browser.close().catch(() => undefined)
  await daemon.stop()
  if (!args.includes("--keep")) rmSync(home, { recursive: true, force: true })
}
record("dashboard-first-screen", result)
const { loads: _omit, ...short } = result as { loads: unknown }
console.log(JSON.stringify(short, null, 2))
