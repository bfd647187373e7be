/**
 * Where the local-AI settings come from (issue #13), first found wins: the flags of `start` and
 * `serve` (`--ollama-url`, `--ollama-chat-model`, `--ollama-embed-model`, `--ollama-allow-http`), the same as environment
 * variables (`OVERLORD_OLLAMA_URL`, ...; the flags are passed on to the server's thread this way),
 * the config file (`<home>/config.json`, `{"ollama": {...}}`), then `OLLAMA_HOST` and the defaults
 * (`@overlord/ai`'s `ollamaConfig`: the `ollama` client reads no environment itself). The URL `off`
 * runs the server without the indexer.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { type OllamaConfig, ollamaConfig, ollamaInClearWarning } from "@overlord/ai"
import { Cause, Schema } from "effect"
import { defaultHome } from "./home.ts"

export const OLLAMA_ENV = {
  url: "OVERLORD_OLLAMA_URL",
  chatModel: "OVERLORD_OLLAMA_CHAT_MODEL",
  embedModel: "OVERLORD_OLLAMA_EMBED_MODEL",
  /** `1` when set (`--ollama-allow-http`). */
  allowHttp: "OVERLORD_OLLAMA_ALLOW_HTTP",
} as const

/** Ollama is asked for 256 dimensions unless configured otherwise (`@overlord/ai`'s measurement). */
export const DEFAULT_EMBED_DIMENSIONS = 256

const Name = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200))
export const OllamaFileSettings = Schema.Struct({
  url: Schema.optionalKey(Name),
  chatModel: Schema.optionalKey(Name),
  embedModel: Schema.optionalKey(Name),
  embedDimensions: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 16, maximum: 4096 }))),
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 100, maximum: 3_600_000 }))),
  /** Plain http:// to another host on an encrypted network (VPN, SSH tunnel): not warned of. */
  allowHttp: Schema.optionalKey(Schema.Boolean),
})
export const ConfigFile = Schema.Struct({ ollama: Schema.optionalKey(OllamaFileSettings) })
export type ConfigFile = typeof ConfigFile.Type

export const configPath = (home: string) => join(home, "config.json")

export class ConfigFileError extends Error {}

/** The config file's settings (none when it does not exist); a file that does not validate is an error. */
export function readConfigFile(home: string): ConfigFile {
  const path = configPath(home)
  if (!existsSync(path)) return {}
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, "utf8"))
  } catch (cause) {
    throw new ConfigFileError(`${path} is not JSON`, { cause })
  }
  const decoded = Schema.decodeUnknownExit(ConfigFile)(json)
  if (decoded._tag === "Failure") {
    // The issue's own words ("Expected string at ["ollama"]["chatModel"]"), not the Cause's dump.
    const error = Cause.squash(decoded.cause)
    const detail = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")
    throw new ConfigFileError(`${path}: ${detail}`)
  }
  return decoded.value
}

export interface OllamaFlagValues {
  readonly ollamaUrl?: string | undefined
  readonly ollamaChatModel?: string | undefined
  readonly ollamaEmbedModel?: string | undefined
  readonly ollamaAllowHttp?: boolean | undefined
}

/** The settings, or null when the URL is `off`. */
export function resolveOllama(
  home: string,
  flags: OllamaFlagValues = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): OllamaConfig | null {
  const file = readConfigFile(home).ollama ?? {}
  const pick = (flag: string | undefined, name: string) => flag ?? (env[name]?.trim() || undefined)
  const url = pick(flags.ollamaUrl, OLLAMA_ENV.url) ?? file.url
  if (url?.toLowerCase() === "off") return null
  const config = ollamaConfig(
    {
      ollamaUrl: url,
      ollamaChatModel: pick(flags.ollamaChatModel, OLLAMA_ENV.chatModel) ?? file.chatModel,
      ollamaEmbedModel: pick(flags.ollamaEmbedModel, OLLAMA_ENV.embedModel) ?? file.embedModel,
      ollamaTimeoutMs: file.timeoutMs,
      ollamaEmbedDimensions: file.embedDimensions ?? DEFAULT_EMBED_DIMENSIONS,
      ollamaAllowHttp: flags.ollamaAllowHttp || env[OLLAMA_ENV.allowHttp] === "1" || file.allowHttp === true,
    },
    env,
  )
  return config
}

/** The flags as environment for the server's thread (`overlord start` runs it on a worker). */
export function exportOllamaFlags(flags: OllamaFlagValues, env: Record<string, string | undefined> = process.env) {
  if (flags.ollamaUrl !== undefined) env[OLLAMA_ENV.url] = flags.ollamaUrl
  if (flags.ollamaChatModel !== undefined) env[OLLAMA_ENV.chatModel] = flags.ollamaChatModel
  if (flags.ollamaEmbedModel !== undefined) env[OLLAMA_ENV.embedModel] = flags.ollamaEmbedModel
  if (flags.ollamaAllowHttp) env[OLLAMA_ENV.allowHttp] = "1"
}

/** The `--home` of this process's command (`overlord serve` runs its server on this thread). */
let commandHome: string | null = null
export const rememberHome = (home: string) => {
  commandHome = home
}

/**
 * `httpServerLayer`'s AI settings for a server whose Overlord folder is `home` (default: the command's),
 * never throwing: a bad config file turns AI off and says so.
 */
export function serverAiConfig(
  home: string = commandHome ?? defaultHome(),
  warn: (message: string) => void = console.warn,
): { ollama?: OllamaConfig } {
  try {
    const ollama = resolveOllama(home)
    // An Ollama on another host over plain http:// gets every transcript in clear: said at start.
    const inClear = ollama ? ollamaInClearWarning(ollama.url, { allowHttp: ollama.allowHttp }) : null
    if (inClear) warn(`local AI: ${inClear}`)
    return ollama ? { ollama } : {}
  } catch (error) {
    warn(`local AI is off: ${error instanceof Error ? error.message : String(error)}`)
    return {}
  }
}
