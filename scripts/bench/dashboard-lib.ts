/**
 * Shared pieces of the dashboard benchmarks (dashboard-live.ts, dashboard-first-screen.ts): realistic
 * Claude Code JSONL records with fresh ids, signing a Chromium context in, the dashboard build's identity.
 * Daemon, /proc and polling helpers come from lib.ts.
 */
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import type { Browser, BrowserContext } from "@overlord/testkit/browser"
import { REPO, sleep } from "./lib.ts"

export const WEB_DIST = join(REPO, "apps/web/dist")
/** Wall-clock ms with sub-ms resolution; Chromium's `performance.timeOrigin + performance.now()` is the same clock. */
export const wallNow = () => performance.timeOrigin + performance.now()

// ---- records ----------------------------------------------------------------------------------------
const HEX = "0123456789abcdef"
const hex = (n: number) => {
  let s = ""
  for (let i = 0; i < n; i++) s += HEX[Math.floor(Math.random() * 16)]
  return s
}
const alnum = (n: number) => {
  const A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
  let s = ""
  for (let i = 0; i < n; i++) s += A[Math.floor(Math.random() * A.length)]
  return s
}
export const newUuid = () => crypto.randomUUID()

const WORDS =
  "the session file parser reads each line and stores it so the dashboard can render entries while the agent works through a refactor of the sync engine with tests for every edge case in the watcher and the store".split(
    " ",
  )
const prose = (words: number) => {
  const out: string[] = []
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(Math.random() * WORDS.length)]!)
  return `${out.join(" ")}.`
}

/** Writes the records of one session in Claude Code's shape; keeps the uuid chain and the clock. */
export class SessionWriter {
  private parent: string | null = null
  private t: number
  constructor(
    readonly sessionId: string,
    readonly cwd: string,
    startMs: number,
    private readonly model = "claude-opus-4-5",
  ) {
    this.t = startMs
  }
  private common(type: "user" | "assistant", uuid: string) {
    this.t += 400 + Math.floor(Math.random() * 4000)
    return {
      parentUuid: this.parent,
      isSidechain: false,
      userType: "external",
      cwd: this.cwd,
      sessionId: this.sessionId,
      version: "2.1.330",
      gitBranch: "main",
      type,
      uuid,
      timestamp: new Date(this.t).toISOString(),
    }
  }
  user(text: string): string {
    const uuid = newUuid()
    const rec = { ...this.common("user", uuid), promptId: newUuid(), message: { role: "user", content: text } }
    this.parent = uuid
    return JSON.stringify(rec)
  }
  private assistantMsg(content: unknown[], stop: string) {
    return {
      id: `msg_01${alnum(22)}`,
      type: "message",
      role: "assistant",
      model: this.model,
      content,
      stop_reason: stop,
      stop_sequence: null,
      usage: {
        input_tokens: 3 + Math.floor(Math.random() * 200),
        cache_creation_input_tokens: Math.floor(Math.random() * 3000),
        cache_read_input_tokens: 10_000 + Math.floor(Math.random() * 90_000),
        output_tokens: 20 + Math.floor(Math.random() * 800),
        service_tier: "standard",
      },
    }
  }
  assistantText(text: string): string {
    const uuid = newUuid()
    const rec = {
      ...this.common("assistant", uuid),
      message: this.assistantMsg([{ type: "text", text }], "end_turn"),
      requestId: `req_011${alnum(21)}`,
    }
    this.parent = uuid
    return JSON.stringify(rec)
  }
  /** An assistant tool_use (Bash) and the user tool_result that answers it: two lines. */
  toolRound(): [string, string] {
    const id = `toolu_01${alnum(22)}`
    const a = newUuid()
    const cmd = `bun test packages/store --filter ${hex(6)}`
    const use = {
      ...this.common("assistant", a),
      message: this.assistantMsg(
        [
          { type: "thinking", thinking: prose(25), signature: `sig_${alnum(40)}` },
          { type: "tool_use", id, name: "Bash", input: { command: cmd, description: "Run the store tests" } },
        ],
        "tool_use",
      ),
      requestId: `req_011${alnum(21)}`,
    }
    this.parent = a
    const u = newUuid()
    const output = Array.from({ length: 6 + Math.floor(Math.random() * 20) }, (_, i) => `  ✓ case ${i} ${prose(6)}`)
    const result = {
      ...this.common("user", u),
      message: { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: output.join("\n") }] },
      toolUseResult: { stdout: output.join("\n"), stderr: "", interrupted: false, isImage: false },
      sourceToolAssistantUUID: a,
    }
    this.parent = u
    return [JSON.stringify(use), JSON.stringify(result)]
  }
  /** A realistic turn: prompt, 0–3 tool rounds, a text answer. */
  turn(i: number): string[] {
    const out = [this.user(`Step ${i}: ${prose(12 + Math.floor(Math.random() * 30))}`)]
    const rounds = Math.floor(Math.random() * 4)
    for (let r = 0; r < rounds; r++) out.push(...this.toolRound())
    out.push(this.assistantText(`${prose(30 + Math.floor(Math.random() * 80))}\n\n${prose(20)}`))
    return out
  }
}

/** The session file's path under a CLAUDE_CONFIG_DIR-like root. */
export const sessionPath = (claudeDir: string, cwd: string, sessionId: string) =>
  join(claudeDir, "projects", cwd.replace(/[^a-zA-Z0-9]/g, "-"), `${sessionId}.jsonl`)

// ---- browser ----------------------------------------------------------------------------------------
/** Consumes the daemon's one-time sign-in link in a throwaway context and returns its cookies. */
export async function signInCookies(browser: Browser, dashboardUrl: string) {
  const ctx = await browser.newContext()
  try {
    const page = await ctx.newPage()
    await page.goto(dashboardUrl, { waitUntil: "domcontentloaded" })
    const cookies = await ctx.cookies()
    if (cookies.length === 0) throw new Error(`no cookie after ${dashboardUrl}`)
    return cookies
  } finally {
    await ctx.close()
  }
}

export async function signedInContext(browser: Browser, cookies: Awaited<ReturnType<typeof signInCookies>>) {
  const ctx: BrowserContext = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  await ctx.addCookies(cookies)
  return ctx
}

/** Which dashboard build is served: the entry bundle's name and whether web sources are newer than it. */
export function distInfo(): { bundle: string; builtAt: string; sourcesNewer: boolean } {
  const assets = join(WEB_DIST, "assets")
  if (!existsSync(assets)) throw new Error("apps/web/dist is missing: cd apps/web && bunx --bun vite build")
  const bundle = readdirSync(assets).find((f) => /^index-.*\.js$/.test(f)) ?? "?"
  const built = statSync(join(assets, bundle)).mtimeMs
  const walk = (d: string): number =>
    Math.max(
      0,
      ...readdirSync(d, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? walk(join(d, e.name)) : statSync(join(d, e.name)).mtimeMs,
      ),
    )
  return {
    bundle,
    builtAt: new Date(built).toISOString(),
    sourcesNewer: walk(join(REPO, "apps/web/src")) > built,
  }
}

/** `cd apps/web && bunx --bun vite build` (only with --build). */
export function buildWeb(): void {
  const r = Bun.spawnSync(["bunx", "--bun", "vite", "build"], { cwd: join(REPO, "apps/web"), stderr: "pipe" })
  if (r.exitCode !== 0) throw new Error(`vite build failed: ${r.stderr.toString().slice(-2000)}`)
}

/** What the pages' init scripts keep on `window.__bench`: mark → time. */
export type BenchWindow = {
  __bench: { marks: Record<string, number>; dom: Record<string, number>; ws: Record<string, number> }
}

export const loadAvg = () => require("node:os").loadavg() as number[]
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
void sleep
