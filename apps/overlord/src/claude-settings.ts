/**
 * What Claude Code's own settings say about keeping sessions: it deletes session files whose last
 * activity is older than `cleanupPeriodDays` (30 by default), read from `settings.json` in its folder
 * (`~/.claude`, or `$CLAUDE_CONFIG_DIR`). Overlord keeps what it deletes; `overlord doctor` says so.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"

/** Claude Code's default when the setting is absent. */
export const DEFAULT_CLEANUP_PERIOD_DAYS = 30

export interface CleanupPeriod {
  readonly days: number
  /** The settings file that set it, or null for Claude Code's default. */
  readonly source: string | null
  /** Why the file could not be used (unreadable, not JSON, a value that is not a whole number of days). */
  readonly problem: string | null
}

// Only the one key; the rest of the file is Claude Code's business.
const Settings = Schema.Struct({
  cleanupPeriodDays: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
})
const decodeSettings = Schema.decodeUnknownExit(Settings)

export function readCleanupPeriod(claudeDir: string): CleanupPeriod {
  const path = join(claudeDir, "settings.json")
  const fallback = (problem: string | null): CleanupPeriod => ({
    days: DEFAULT_CLEANUP_PERIOD_DAYS,
    source: null,
    problem,
  })
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return fallback(null)
    return fallback(`cannot read ${path}: ${(error as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return fallback(`${path} is not valid JSON`)
  }
  const exit = decodeSettings(json)
  if (exit._tag === "Failure") return fallback(`${path}: cleanupPeriodDays is not a whole number of days`)
  const days = exit.value.cleanupPeriodDays
  return days === undefined ? fallback(null) : { days, source: path, problem: null }
}
