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
 */
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"

const REPO = fileURLToPath(new URL("..", import.meta.url))
export const DAEMON_DIST = `${REPO}apps/overlord/dist`
export const DAEMON_BUNDLE = `${DAEMON_DIST}/bin.js`

/** Builds into `outdir` (tests that inspect a bundle build their own); returns its `bin.js`. */
export async function buildDaemon(outdir = DAEMON_DIST): Promise<string> {
  rmSync(outdir, { recursive: true, force: true })
  const result = await Bun.build({
    entrypoints: [
      `${REPO}apps/overlord/src/bin.ts`,
      `${REPO}apps/overlord/src/embedded-server-worker.ts`,
      `${REPO}packages/store/src/sqlite-checkpoint-worker.ts`,
      `${REPO}apps/server/src/ai-indexer-worker.ts`,
    ],
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
  return `${outdir}/bin.js`
}

if (import.meta.main) {
  const out = await buildDaemon()
  console.error(`overlord: built ${out}`)
}
