/**
 * Browser tests drive the real bundle the server serves (`apps/web/dist`). A fresh clone has none,
 * and a stale one would test old code, so it is (re)built when any input is newer than the output.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const WEB = join(import.meta.dirname, "..")
const REPO = join(WEB, "..", "..")
export const DIST_INDEX = join(WEB, "dist", "index.html")

const INPUTS = [
  join(WEB, "src"),
  join(WEB, "index.html"),
  join(WEB, "vite.config.ts"),
  join(WEB, "package.json"),
  join(REPO, "packages", "protocol", "src"),
  join(REPO, "packages", "transcript", "src"),
]

const newestMtime = (path: string): number => {
  if (!existsSync(path)) return 0
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = st.mtimeMs
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)))
  return newest
}

export const webBuildStale = (): boolean =>
  !existsSync(DIST_INDEX) || Math.max(...INPUTS.map(newestMtime)) > statSync(DIST_INDEX).mtimeMs

/** Runs `vite build` (under bun, as the repo's scripts do) when dist is missing or older than its sources. */
export function ensureWebBuilt(): void {
  if (!webBuildStale()) return
  const vite = join(WEB, "node_modules", "vite", "bin", "vite.js")
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  const cmd = isBun ? process.execPath : "node"
  const args = isBun ? ["--bun", vite, "build"] : [vite, "build"]
  const res = spawnSync(cmd, args, { cwd: WEB, encoding: "utf8", timeout: 120_000 })
  if (res.status !== 0 || !existsSync(DIST_INDEX)) {
    throw new Error(`vite build failed (${res.status ?? res.signal}):\n${res.stdout}\n${res.stderr}`)
  }
}
