/**
 * The server this machine is paired with (`overlord login`): `<home>/server.json` holds its URL, the
 * machine token and the machine id, mode 0600. While it exists, `overlord start` syncs there (no
 * embedded server) and `sessions`, `export` and `status` read from there.
 */
import { mkdirSync, rmSync, type Stats, unwatchFile, watchFile } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"
import {
  type Credentials,
  type HomePaths,
  loadCredentials as loadEmbeddedCredentials,
  readJson,
  writeJson,
} from "./home.ts"
import type { CredentialSource } from "./sync-connection.ts"

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
 * `server.json` as a running daemon's credentials: a new `overlord login` (a new token, or another
 * server) is picked up without a restart. Watched by polling its stat once a second (`fs.watchFile`):
 * one `stat` a second costs nothing, and unlike `fs.watch` it sees the file appear after a logout and
 * survives `writeJson`'s rename.
 */
export function storedCredentialSource(paths: HomePaths): CredentialSource {
  const path = serverJsonPath(paths)
  return {
    current: () => {
      const c = loadServerCredentials(paths)
      const name = readJson<{ name?: unknown }>(paths.machine)?.name
      return c ? { serverUrl: c.url, token: c.token, ...(typeof name === "string" ? { machineName: name } : {}) } : null
    },
    watch: (listener) => {
      const onStat = (now: Stats, before: Stats) => {
        if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino) listener()
      }
      watchFile(path, { interval: 1000, persistent: false }, onStat)
      return () => unwatchFile(path, onStat)
    },
  }
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

/**
 * Said when there is no server to ask: neither paired (`server.json`) nor an embedded server that ran
 * here (`credentials.json`). A daemon may be running all the same (after `overlord logout`), so this
 * never claims Overlord was not started.
 */
export const NO_SERVER_MESSAGE =
  "there is no server to ask: this machine is not paired with one (`overlord login <server-url>`) and the embedded server has not run here yet (`overlord start`)"

/**
 * Said when the server cannot be reached. A paired machine's server is someone else's `overlord serve`:
 * telling that user to run `overlord start` (already running) sent them the wrong way.
 */
export function unreachableMessage(paths: HomePaths, serverUrl: string): string {
  return loadServerCredentials(paths)
    ? `cannot reach the server at ${serverUrl}, which this machine is paired with: check that \`overlord serve\` runs there and that this machine can reach it (\`overlord status\` shows the daemon's last error)`
    : `cannot reach the embedded server at ${serverUrl}: is \`overlord start\` running? (\`overlord status\` says)`
}

/**
 * A server's refusal names it as `<this server's URL>` (it cannot know the address it is reached at);
 * the daemon and `overlord status` know it, and say it in its place.
 */
export const withServerUrl = (message: string, serverUrl: string): string =>
  message.replaceAll("<this server's URL>", serverUrl)

/**
 * Said when the server answers 401 to this machine's token: on a paired machine the token was revoked
 * (in the dashboard, or by a logout elsewhere) and only a new `overlord login` helps.
 */
export function refusedMessage(paths: HomePaths, serverUrl: string): string {
  return loadServerCredentials(paths)
    ? `the server at ${serverUrl} refused this machine's token (the machine was revoked or unpaired): pair it again with \`overlord login ${serverUrl}\` (a running daemon picks the new pairing up by itself)`
    : `the embedded server at ${serverUrl} refused the token in credentials.json: restart it (\`overlord stop && overlord start\`) to write a new one`
}
