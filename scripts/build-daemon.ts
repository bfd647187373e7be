/**
 * Bundles `overlord` (the CLI, daemon and embedded server) into apps/overlord/dist/, which is what
 * `npm start`, the end-to-end tests and the benchmarks run.
 *
 *   bun scripts/build-daemon.ts
 *
 * Why a bundle: Bun keeps the source and bytecode of every module it loads, and `effect`'s entry
 * module loads all of effect. Each JavaScript thread (the daemon's, the embedded server's) paid
 * ~20 MB for it; tree-shaken, the whole program is ~0.5 MB (BENCHMARKS.md, idle memory).
 *
 * The workers are entry points of their own and every file lands flat in dist/, so the code that
 * starts a worker finds `./<worker>.js` beside its own chunk; run from source, it finds `<worker>.ts`.
 *
 * Several test runs and benchmarks share one checkout, and each builds at its start while the others'
 * daemons are started from this bundle. The bundle is therefore never taken away under them: it is
 * built into a folder of its own, each file that changed is renamed into place (one atomic step a
 * file, so `bin.js` is always whole), identical files are left alone, and files of older builds stay
 * for a day (chunks are named by their hash, so a process started from an older `bin.js` still finds
 * its own). Deleting `dist/` first, as this did, made a concurrent run's daemon exit with
 * `Module not found ".../dist/bin.js"`: 4 of 7 runs of the daemon-kill exactly-once case failed so
 * while a second run started beside them (notes/flaky-once.md).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from "node:fs"
import { basename, join } from "node:path"
import { fileURLToPath } from "node:url"

const REPO = fileURLToPath(new URL("..", import.meta.url))
export const DAEMON_DIST = `${REPO}apps/overlord/dist`
export const DAEMON_BUNDLE = `${DAEMON_DIST}/bin.js`

/** Builds into `outdir` (tests that inspect a bundle build their own); returns its `bin.js`. */
export async function buildDaemon(outdir = DAEMON_DIST): Promise<string> {
  mkdirSync(outdir, { recursive: true })
  // Beside the output (same filesystem, so a rename is atomic), dot-named so nothing takes it for output.
  const staging = mkdtempSync(join(outdir, ".build-"))
  const built = new Set<string>()
  try {
    await buildInto(staging)
    for (const name of installOrder(readdirSync(staging))) {
      const from = join(staging, name)
      const to = join(outdir, name)
      built.add(name)
      if (!sameBytes(from, to)) renameSync(from, to)
      // A file's mtime says when a build last wrote or confirmed it, which is what the pruning goes by.
      else utimesSync(to, new Date(), new Date())
    }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  pruneOldBuilds(outdir, built)
  return `${outdir}/bin.js`
}

/** Chunks (new names) first, entry points last: a `bin.js` in place never names a chunk not yet there. */
export function installOrder(names: readonly string[]): string[] {
  const isEntry = (name: string) => ENTRY_FILES.has(name.replace(/\.map$/, ""))
  return [...names.filter((n) => !isEntry(n)), ...names.filter(isEntry)]
}

function sameBytes(a: string, b: string): boolean {
  try {
    return readFileSync(a).equals(readFileSync(b))
  } catch {
    return false
  }
}

/** What older builds left (files this build did not write, staging folders of a killed build), after a day. */
const KEEP_OLD_BUILDS_MS = 24 * 3600_000

function pruneOldBuilds(outdir: string, built: ReadonlySet<string>): void {
  const now = Date.now()
  for (const name of readdirSync(outdir)) {
    if (built.has(name)) continue
    const path = join(outdir, name)
    try {
      if (now - statSync(path).mtimeMs > KEEP_OLD_BUILDS_MS) rmSync(path, { recursive: true, force: true })
    } catch {
      // Removed by a concurrent build.
    }
  }
}

const ENTRY_POINTS = [
  `${REPO}apps/overlord/src/bin.ts`,
  `${REPO}apps/overlord/src/embedded-server-worker.ts`,
  `${REPO}packages/store/src/sqlite-checkpoint-worker.ts`,
  `${REPO}apps/server/src/ai-indexer-worker.ts`,
]

/** What each entry point is written as (`naming.entry`), e.g. `bin.js`. */
const ENTRY_FILES = new Set(ENTRY_POINTS.map((p) => `${basename(p, ".ts")}.js`))

async function buildInto(outdir: string): Promise<void> {
  const result = await Bun.build({
    entrypoints: ENTRY_POINTS,
    outdir,
    target: "bun",
    splitting: true,
    sourcemap: "linked",
    naming: { entry: "[name].[ext]", chunk: "[name]-[hash].[ext]" },
    // ws loads these optional native speed-ups only if installed; they are not.
    external: ["bufferutil", "utf-8-validate"],
  })
  if (!result.success) {
    throw new AggregateError(result.logs, "overlord: the daemon bundle failed to build")
  }
}

if (import.meta.main) {
  const out = await buildDaemon()
  console.error(`overlord: built ${out}`)
}
