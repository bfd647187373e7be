/**
 * Real session files for the benchmarks: runs the testkit scenarios (the REAL Claude Code CLI against
 * the scripted fake API) once and caches the resulting `projects/` trees under `.artifacts/bench/seed`.
 * Later runs reuse the cache. `bun scripts/bench/seed.ts [--force]`
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { image, resume, runScenario, subagent, toolTour } from "@overlord/testkit/scenarios"

export const REPO = resolve(import.meta.dir, "../..")
export const ARTIFACTS = join(REPO, ".artifacts/bench")
export const SEED_DIR = join(ARTIFACTS, "seed")

const factories = { toolTour, subagent, image, resume } as const

/** Returns the seed dir; each scenario's `projects/<encoded-cwd>/...` tree lives in `seed/<name>/`. */
export async function ensureSeed(force = false): Promise<string> {
  for (const [name, factory] of Object.entries(factories)) {
    const dest = join(SEED_DIR, name)
    if (!force && existsSync(dest) && readdirSync(dest).length > 0) continue
    rmSync(dest, { recursive: true, force: true })
    const t0 = performance.now()
    const run = await runScenario(factory, { timeoutMs: 120_000 })
    try {
      const failed = run.runs.find((r) => r.exitCode !== 0)
      if (failed || !run.sessionId) throw new Error(`scenario ${name} failed (exit ${failed?.exitCode})`)
      mkdirSync(dest, { recursive: true })
      cpSync(join(run.home.configDir, "projects"), dest, { recursive: true })
      console.error(`seed ${name}: session ${run.sessionId} in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    } finally {
      await run.dispose()
    }
  }
  return SEED_DIR
}

if (import.meta.main) {
  await ensureSeed(process.argv.includes("--force"))
  console.log(SEED_DIR)
}
