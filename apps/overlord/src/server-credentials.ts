/**
 * The server this machine is paired with (`overlord login`): `<home>/server.json` holds its URL, the
 * machine token and the machine id, mode 0600. While it exists, `overlord start` syncs there (no
 * embedded server) and `sessions`, `export` and `status` read from there.
 */
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"
import {
  type Credentials,
  type HomePaths,
  loadCredentials as loadEmbeddedCredentials,
  readJson,
  writeJson,
} from "./home.ts"

export const ServerCredentials = Schema.Struct({
  url: Schema.String,
  token: Schema.String,
  machineId: Schema.String,
})
export type ServerCredentials = typeof ServerCredentials.Type

export const serverJsonPath = (paths: HomePaths) => join(paths.home, "server.json")

/** The paired server, or null when there is none (or the file is not one we wrote). */
export function loadServerCredentials(paths: HomePaths): ServerCredentials | null {
  const value = readJson<unknown>(serverJsonPath(paths))
  return value !== null && Schema.is(ServerCredentials)(value) ? value : null
}

export function saveServerCredentials(paths: HomePaths, credentials: ServerCredentials): void {
  mkdirSync(paths.home, { recursive: true, mode: 0o700 })
  writeJson(serverJsonPath(paths), credentials, 0o600)
}

export function deleteServerCredentials(paths: HomePaths): void {
  rmSync(serverJsonPath(paths), { force: true })
}

/**
 * Where the CLI and the daemon talk to: the paired server (its machine token reads too: the server
 * accepts a machine's own token for GET requests), else the embedded server's `credentials.json`.
 */
export function loadCredentials(paths: HomePaths): Credentials | null {
  const paired = loadServerCredentials(paths)
  if (paired) return { serverUrl: paired.url, machineToken: paired.token, apiToken: paired.token }
  return loadEmbeddedCredentials(paths)
}

/** The paired server's URL, which `overlord start` picks over the embedded server. */
export const pairedServerUrl = (paths: HomePaths): string | null => loadServerCredentials(paths)?.url ?? null
