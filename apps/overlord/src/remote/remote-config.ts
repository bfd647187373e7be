/**
 * Remote commands' settings: `<home>/remote/config.json` (optional, written by the user) and the
 * daemon's `--allow-remote` flag. Either can turn commands on; a config file that does not validate
 * turns them off, with a warning that says what is wrong, and the daemon keeps syncing.
 *
 * ```json
 * { "enabled": true, "maxConcurrent": 2, "shellAllow": [["git", "status"], ["pnpm", "test"]],
 *   "projects": ["/home/ada/code/new-repo"] }
 * ```
 *
 * `projects` adds folders commands may run in besides the exact `cwd`s of this machine's sessions; each
 * is that folder only, not the folders inside it (`command-runner.ts`, `resolveProjectDir`).
 */
import { readFileSync } from "node:fs"
import { Cause, Schema } from "effect"
import type { Logger } from "../logger.ts"
import { DEFAULT_REMOTE_CONFIG, type RemoteConfig, remotePaths } from "./command-runner.ts"

const Positive = Schema.Int.check(Schema.isGreaterThan(0))

export const RemoteConfigFile = Schema.Struct({
  enabled: Schema.optionalKey(Schema.Boolean),
  maxConcurrent: Schema.optionalKey(Positive),
  maxPromptBytes: Schema.optionalKey(Positive),
  defaultTimeoutMs: Schema.optionalKey(Positive),
  maxTimeoutMs: Schema.optionalKey(Positive),
  cancelGraceMs: Schema.optionalKey(Positive),
  shellAllow: Schema.optionalKey(
    Schema.Array(Schema.Array(Schema.String.check(Schema.isMinLength(1))).check(Schema.isMinLength(1))),
  ),
  allowBypassPermissions: Schema.optionalKey(Schema.Boolean),
  projects: Schema.optionalKey(
    Schema.Array(
      Schema.String.check(
        Schema.makeFilter((s: string) => s.startsWith("/") && !s.split("/").includes(".."), {
          expected: "an absolute path without '..'",
        }),
      ),
    ),
  ),
})
export type RemoteConfigFile = typeof RemoteConfigFile.Type

const decodeConfig = Schema.decodeUnknownExit(Schema.fromJsonString(RemoteConfigFile))

/** The settings in force: the file's (if any, and valid), enabled as well when `allowRemote` is set. */
export function loadRemoteConfig(
  home: string,
  flags: { readonly allowRemote?: boolean },
  logger: Logger,
): RemoteConfig {
  const path = remotePaths(home).config
  let text: string | undefined
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      logger.warn(`remote: cannot read ${path} (${String(error)}); remote commands stay off`)
  }
  let file: RemoteConfigFile = {}
  if (text !== undefined) {
    const exit = decodeConfig(text)
    if (exit._tag === "Failure") {
      const error = Cause.squash(exit.cause)
      const detail = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")
      logger.warn(`remote: ${path} is not valid, remote commands stay off: ${detail}`)
      return { ...DEFAULT_REMOTE_CONFIG, enabled: false }
    }
    file = exit.value
  }
  return { ...DEFAULT_REMOTE_CONFIG, ...file, enabled: flags.allowRemote === true || file.enabled === true }
}
