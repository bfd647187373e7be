/**
 * Where the laptop keeps its Daytona settings: `<overlord home>/daytona.json` (mode 0600), each field
 * falling back to an environment variable. The keys never leave this machine except to Daytona
 * (its key) and into the sandbox (the Anthropic key).
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { readJson } from "../home.ts"
import { DaytonaSandboxError } from "./daytona-errors.ts"
import { DEFAULT_SNAPSHOT } from "./daytona-image.ts"
import type { DaytonaSettings } from "./daytona-sandbox.ts"

export const DEFAULT_DAYTONA_API_URL = "https://app.daytona.io/api"
/** Daytona's own default is 15; a Claude Code run that waits on its user is often longer. */
export const DEFAULT_AUTO_STOP_MINUTES = 30

interface DaytonaFile {
  readonly apiUrl?: string
  readonly apiKey?: string
  readonly anthropicApiKey?: string
  readonly snapshot?: string
  readonly autoStopMinutes?: number
  readonly target?: string
  /** Wait for sandbox states by polling rather than Socket.IO (the SDK's deprecated option). */
  readonly statePolling?: boolean
  /** More environment for Claude Code in the sandbox (e.g. ANTHROPIC_BASE_URL for a gateway). */
  readonly sandboxEnv?: Readonly<Record<string, string>>
  /** Seconds a sandbox may take to reach `started` (default 120): more for a slow region or large snapshot. */
  readonly startTimeoutSeconds?: number
}

const stringsOnly = (v: unknown): Record<string, string> =>
  typeof v === "object" && v !== null
    ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"))
    : {}

export const daytonaSettingsPath = (overlordHome: string): string => join(overlordHome, "daytona.json")

/** The settings from `daytona.json`, else DAYTONA_API_KEY, DAYTONA_API_URL, DAYTONA_TARGET, ANTHROPIC_API_KEY. */
export function loadDaytonaSettings(
  overlordHome: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): DaytonaSettings {
  const path = daytonaSettingsPath(overlordHome)
  const file = readJson<DaytonaFile>(path) ?? {}
  // A file that is there but unusable is not "not configured": that sent the user to put in the keys
  // they had put in, a comma away from valid JSON.
  if (existsSync(path)) {
    const raw = readJson<unknown>(path)
    const wrongType = (["apiKey", "anthropicApiKey", "apiUrl", "snapshot", "target"] as const).filter(
      (k) => file[k] !== undefined && typeof file[k] !== "string",
    )
    const problem =
      raw === null
        ? "is not valid JSON"
        : typeof raw !== "object" || Array.isArray(raw)
          ? "is not a JSON object"
          : wrongType.length > 0
            ? `has ${wrongType.map((k) => `"${k}"`).join(", ")} not a string`
            : null
    if (problem) throw new DaytonaSandboxError("daytona", `${path} ${problem}: fix it, then restart the daemon`)
  }
  const apiKey = file.apiKey ?? env.DAYTONA_API_KEY
  const anthropicApiKey = file.anthropicApiKey ?? env.ANTHROPIC_API_KEY
  if (!apiKey || !anthropicApiKey)
    throw new DaytonaSandboxError(
      "not-configured",
      `Daytona is not configured on this machine: put "apiKey" and "anthropicApiKey" in ${path} (mode 600), or set DAYTONA_API_KEY and ANTHROPIC_API_KEY.`,
    )
  const target = file.target ?? env.DAYTONA_TARGET
  return {
    apiUrl: file.apiUrl ?? env.DAYTONA_API_URL ?? DEFAULT_DAYTONA_API_URL,
    apiKey,
    anthropicApiKey,
    snapshot: file.snapshot ?? DEFAULT_SNAPSHOT,
    autoStopMinutes: file.autoStopMinutes ?? DEFAULT_AUTO_STOP_MINUTES,
    ...(target ? { target } : {}),
    ...(file.statePolling === true ? { statePolling: true } : {}),
    ...(file.sandboxEnv !== undefined ? { sandboxEnv: stringsOnly(file.sandboxEnv) } : {}),
    ...(typeof file.startTimeoutSeconds === "number" && file.startTimeoutSeconds > 0
      ? { startTimeoutSeconds: file.startTimeoutSeconds }
      : {}),
  }
}
