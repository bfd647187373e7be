/**
 * `overlord login <url>` (device code: the user approves in the dashboard), `overlord login <url> --key
 * <key>` (headless: a pairing key an admin made), `overlord logout`, and `overlord keys create` (a
 * pairing key made on the server's host, straight in its database).
 */

import { hostname, userInfo } from "node:os"
import { Api, isLoopbackHost, numberedMachineName } from "@overlord/protocol"
import { type Command, InvalidArgumentError } from "commander"
import { Effect, Schema } from "effect"
import { type HomePaths, loadMachine, type MachineIdentity, saveMachineName } from "./home.ts"
import {
  deleteServerCredentials,
  loadServerCredentials,
  type ServerCredentials,
  saveServerCredentials,
} from "./server-credentials.ts"
import {
  type DatabaseChoice,
  DatabaseUrlError,
  describeDatabase,
  openEngine,
  parseDatabaseUrl,
} from "./store-from-url.ts"

/** A failure told to the user in one line (the CLI prints it and exits 1). */
export class LoginError extends Error {
  override readonly name = "LoginError"
}

const REQUEST_TIMEOUT_MS = 15_000
/** RFC 8628 §3.5: after `slow_down`, poll this much more slowly. */
const SLOW_DOWN_STEP_S = 5

/**
 * An http(s) origin, without a trailing slash. Plain http:// to another host would send the pairing key,
 * the machine token and then every transcript unencrypted, so it needs `allowHttp` (a VPN such as
 * WireGuard or Tailscale already encrypts; the flag says the user knows).
 */
export function serverOrigin(value: string, options: { readonly allowHttp?: boolean } = {}): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new LoginError(`${JSON.stringify(value)} is not a URL; expected something like https://overlord.example.com`)
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new LoginError(
      `the server URL must start with https:// (or http:// for this machine), not ${url.protocol}//: e.g. https://overlord.example.com`,
    )
  if (url.username || url.password) throw new LoginError("the server URL must not contain a user name or password")
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname) && !options.allowHttp)
    throw new LoginError(
      `${url.origin} is plain http://: the pairing key, this machine's token and every transcript would cross the network unencrypted. Use the server's https:// address (\`overlord serve --public-url https://…\` behind a TLS proxy), or add --allow-http if the network is already encrypted (a VPN such as WireGuard or Tailscale)`,
    )
  return url.origin
}

async function post(url: string, body: unknown, token?: string): Promise<Response> {
  try {
    return await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
  } catch (error) {
    throw new LoginError(
      `cannot reach ${new URL(url).origin} (${error instanceof Error ? error.message : String(error)}): check the URL and port, and that \`overlord serve\` runs there`,
    )
  }
}

/** A 404 from a pairing route: the URL answers, but it is not an Overlord server (or not its root). */
const notOverlord = (origin: string) =>
  new LoginError(
    `${origin} answered 404 Not Found: it does not look like an Overlord server. Give the address \`overlord serve\` printed ("Overlord server on …"), or the one its dashboard is on`,
  )

const decode = async <S extends Schema.Top>(res: Response, schema: S, what: string): Promise<S["Type"]> => {
  const value = await res.json().catch(() => null)
  const exit = Schema.decodeUnknownExit(schema as never)(value)
  if (exit._tag === "Failure")
    throw new LoginError(`the server's answer to ${what} is not what this CLI expects (${res.status})`)
  return exit.value as S["Type"]
}

const errorMessage = async (res: Response) =>
  ((await res.json().catch(() => null)) as Api.ApiError | null)?.error?.message ?? `${res.status} ${res.statusText}`

export interface LoginOptions {
  readonly key?: string
  /** Pair over plain http:// with a host other than this one (`--allow-http`). */
  readonly allowHttp?: boolean
  /** This machine's name in the dashboard (`--name`; default: the one it has, at first its host name). */
  readonly name?: string
  /** Where the code and progress go (the terminal). */
  readonly print: (line: string) => void
}

/** Pairs this machine with the server and writes `server.json`; returns what it wrote. */
export async function login(paths: HomePaths, url: string, options: LoginOptions): Promise<ServerCredentials> {
  const origin = serverOrigin(url, { allowHttp: options.allowHttp ?? false })
  let machine = options.name ? saveMachineName(paths, options.name) : loadMachine(paths)
  const credential = options.key
    ? await redeemKey(origin, options.key, machine)
    : await deviceFlow(origin, machine, options.print)
  machine = await ensureUniqueName(
    paths,
    origin,
    credential,
    options.print,
    REQUEST_TIMEOUT_MS,
    options.name !== undefined,
  )
  // Written last: a running daemon picks up the new pairing when server.json changes (and the name with it).
  const saved = { url: origin, token: credential.token, machineId: credential.machineId }
  saveServerCredentials(paths, saved)
  options.print(
    `Paired ${machine.name} with ${origin}. \`overlord start\` now syncs there. A running daemon already paired switches by itself; one running the embedded server needs a restart (\`overlord stop && overlord start\`).`,
  )
  return saved
}

/**
 * Names are unique among a user's machines: two homes on one host (two OS users, or two
 * CLAUDE_CONFIG_DIRs with two --home) were both the host name in the dashboard, nothing telling them
 * apart. Checked at login and at each start on a paired machine (a machine appears in the list at its
 * daemon's first hello, so two homes paired before either started are told apart when the second starts).
 * The server enforces the same rule on every name it stores (`openMachineRow`, `@overlord/store`).
 *
 * The server's name for this machine wins over `machine.json`'s: renamed in the dashboard (or told apart
 * by the server), the machine takes that name here, so that what the daemon says at hello is what the
 * dashboard shows. A name the user `chose` now (`--name`) goes the other way: it is sent to the server
 * at once with this machine's token (the rename route, which refuses a taken name), because a daemon's
 * hello that repeats the name it said before does not replace a rename made in the dashboard.
 */
export async function ensureUniqueName(
  paths: HomePaths,
  origin: string,
  credential: Api.MachineCredential,
  print: (line: string) => void,
  timeoutMs = REQUEST_TIMEOUT_MS,
  chosen = false,
): Promise<MachineIdentity> {
  let machine = loadMachine(paths)
  const listed = await userMachines(origin, credential, timeoutMs)
  if (listed === null) return machine
  const isThis = (m: ListedMachine) => m.machineId === credential.machineId || m.machineId === machine.machineId
  const own = listed.find((m) => isThis(m) && !m.revoked)
  if (!chosen && own && own.name !== machine.name) {
    print(`This machine is named ${own.name} in the dashboard (it was ${machine.name} here): it keeps that name.`)
    return saveMachineName(paths, own.name)
  }
  // A revoked machine's name is free (the server's rule too).
  const taken = new Set(listed.filter((m) => !isThis(m) && !m.revoked).map((m) => m.name))
  const name = uniqueName(machine.name, taken)
  if (name !== machine.name) {
    print(`Another of your machines is named ${machine.name}: this one is now ${name} (rename it with --name).`)
    machine = saveMachineName(paths, name)
  }
  if (chosen && own && own.name !== machine.name)
    await renameOnServer(origin, credential, machine.name, timeoutMs, print)
  return machine
}

type ListedMachine = Api.Machine & { readonly revoked?: boolean }

/** The user's machines (revoked ones marked), or null when the server does not say. */
async function userMachines(
  origin: string,
  credential: Api.MachineCredential,
  timeoutMs: number,
): Promise<readonly ListedMachine[] | null> {
  const res = await fetch(`${origin}/api/v1/machines`, {
    headers: { authorization: `Bearer ${credential.token}` },
    signal: AbortSignal.timeout(timeoutMs),
  }).catch(() => null)
  if (!res?.ok) return null
  const body = (await res.json().catch(() => null)) as { machines?: readonly ListedMachine[] } | null
  return body?.machines ?? null
}

/**
 * Tells the server the name the user chose. Unreachable, it hears it at the daemon's hello instead (a
 * name the daemon did not say before replaces the stored one); a name taken meanwhile is said, not fatal.
 */
async function renameOnServer(
  origin: string,
  credential: Api.MachineCredential,
  name: string,
  timeoutMs: number,
  print: (line: string) => void,
): Promise<void> {
  const res = await fetch(`${origin}/api/v1/machines/${encodeURIComponent(credential.machineId)}/rename`, {
    method: "POST",
    headers: { authorization: `Bearer ${credential.token}`, "content-type": "application/json" },
    body: JSON.stringify({ name } satisfies Api.RenameMachineRequest),
    signal: AbortSignal.timeout(timeoutMs),
  }).catch(() => null)
  if (res?.status === 409) print(`The server did not rename this machine: ${await errorMessage(res)}.`)
}

/**
 * `name` if free, else `name (<OS user>)` (what tells two users' homes apart), else numbered as the server
 * numbers a clash (`numberedMachineName`: `name-2`, `name-3`, …). The server's rule is this one less the
 * `(<OS user>)` step, and it starts the numbering again from a taken base where this one starts from the
 * host name: only the laptop knows which names it gave (`uniqueMachineName` in `@overlord/store`).
 */
export function uniqueName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name
  const user = (() => {
    try {
      return userInfo().username
    } catch {
      return ""
    }
  })()
  // A name this rule gave earlier grows no second suffix ("vm (ann) (ann)"): it starts again from its base.
  const host = hostname()
  const rest = name.startsWith(host) ? name.slice(host.length) : null
  const base = rest !== null && (rest === ` (${user})` || /^-\d+$/.test(rest)) ? host : name
  if (user && !taken.has(`${base} (${user})`)) return `${base} (${user})`
  return numberedMachineName(base, taken)
}

async function redeemKey(
  origin: string,
  key: string,
  machine: { machineId: string; name: string },
): Promise<Api.MachineCredential> {
  const res = await post(`${origin}/api/v1/pairing-keys/redeem`, {
    key,
    machineId: machine.machineId,
    machineName: machine.name,
  })
  if (res.status === 401) {
    throw new LoginError(
      "the server refused this pairing key: it is invalid, expired, revoked or already used. Ask an admin for a new one (dashboard: Account → Pairing keys; or `overlord keys create` on the server's host), or run `overlord login <server-url>` without --key to approve this machine in the dashboard",
    )
  }
  if (res.status === 404) throw notOverlord(origin)
  if (!res.ok) throw new LoginError(`pairing failed: ${await errorMessage(res)}`)
  return decode(res, Api.MachineCredential, "the pairing key")
}

async function deviceFlow(
  origin: string,
  machine: { machineId: string; name: string },
  print: (line: string) => void,
): Promise<Api.MachineCredential> {
  const start = await post(`${origin}/api/v1/device/code`, { machineId: machine.machineId, machineName: machine.name })
  if (start.status === 404) throw notOverlord(origin)
  if (!start.ok) throw new LoginError(`the server would not start pairing: ${await errorMessage(start)}`)
  const code = await decode(start, Api.DeviceCode, "the pairing request")
  print(`To pair this machine, open ${code.verificationUrl}`)
  print(`and check that it shows the code ${code.userCode} (signed in to the dashboard), then approve.`)
  print(`Waiting for approval (the code expires in ${Math.round(code.expiresIn / 60)} minutes)...`)
  const deadline = Date.now() + code.expiresIn * 1000
  let interval = Math.max(1, code.interval)
  while (Date.now() < deadline) {
    await Bun.sleep(interval * 1000)
    const res = await post(`${origin}/api/v1/device/token`, { deviceCode: code.deviceCode })
    // 429: the server's own slow_down, or its rate limit: either way, poll more slowly.
    const answer =
      res.status === 429
        ? { status: "slow_down" as const }
        : await decode(res, Api.DeviceTokenResponse, "the pairing poll")
    switch (answer.status) {
      case "pending":
        continue
      case "slow_down":
        interval += SLOW_DOWN_STEP_S
        continue
      case "approved":
        if (!answer.token || !answer.machineId) throw new LoginError("the server approved but sent no token")
        return { token: answer.token, machineId: answer.machineId }
      case "denied":
        throw new LoginError(`pairing was denied in the dashboard. Run \`overlord login ${origin}\` to try again.`)
      case "expired":
        throw new LoginError(
          `the code ${code.userCode} expired before it was approved. Run \`overlord login ${origin}\` again.`,
        )
    }
  }
  throw new LoginError(
    `the code ${code.userCode} expired before it was approved. Run \`overlord login ${origin}\` again.`,
  )
}

/**
 * Forgets the paired server: revokes this machine's token there when the server answers (so a copy of
 * `server.json` is worthless too), and deletes `server.json` either way.
 */
export async function logout(paths: HomePaths, print: (line: string) => void): Promise<void> {
  const paired = loadServerCredentials(paths)
  if (!paired) {
    print("this machine is not paired with a server (no server.json); nothing to do")
    return
  }
  let revoked = false
  try {
    const res = await post(
      `${paired.url}/api/v1/machines/${encodeURIComponent(paired.machineId)}/revoke`,
      {},
      paired.token,
    )
    // 401: already revoked on the server (or the token is unknown there): nothing left to revoke.
    revoked = res.status === 204 || res.status === 401
    if (!revoked)
      print(`the server did not revoke this machine (${await errorMessage(res)}); revoke it in the dashboard`)
  } catch (error) {
    print(
      `${error instanceof Error ? error.message : String(error)}; revoke this machine in the dashboard when you can`,
    )
  }
  deleteServerCredentials(paths)
  print(
    `Logged out of ${paired.url}${revoked ? " (this machine's token is revoked there)" : ""}. \`overlord start\` uses the embedded server again (restart it if it is running).`,
  )
}

export interface CreateKeyOptions {
  readonly database: DatabaseChoice
  readonly email: string
  readonly ttlMinutes: number
  readonly singleUse: boolean
}

/** `overlord keys create`: a pairing key for a user, made in the server's own database (on its host). */
export async function createPairingKey(options: CreateKeyOptions): Promise<{ key: string; expiresAt: string }> {
  const engine = await Effect.runPromise(
    openEngine(options.database, { retryMaxMs: 2_000 }).pipe(Effect.timeout("30 seconds")),
  ).catch((error: unknown) => {
    throw new LoginError(
      `cannot open ${describeDatabase(options.database)}: ${error instanceof Error ? error.message : String(error)}`,
    )
  })
  try {
    const user = await engine.findUserByEmail(options.email)
    if (!user) throw new LoginError(`no user with the e-mail ${options.email} in ${describeDatabase(options.database)}`)
    const ttlMs = options.ttlMinutes * 60_000
    const key = await engine.issueToken({
      userId: user.userId,
      kind: "pairing-key",
      ttlMs,
      singleUse: options.singleUse,
      label: "overlord keys create",
    })
    return { key, expiresAt: new Date(Date.now() + ttlMs).toISOString() }
  } finally {
    await engine.close()
  }
}

/** Runs a command's action; a `LoginError` is said in one line with exit code 1, as the CLI's own errors are. */
const oneLine =
  <A extends unknown[]>(action: (...args: A) => Promise<void>) =>
  async (...args: A): Promise<void> => {
    try {
      await action(...args)
    } catch (error) {
      if (!(error instanceof LoginError)) throw error
      console.error(`overlord: ${error.message}`)
      process.exitCode = 1
    }
  }

const positiveInt = (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a whole number of minutes, at least 1")
  return n
}

/** `overlord login`, `overlord logout`, `overlord keys create`. */
export function addLoginCommands(program: Command, paths: () => HomePaths): void {
  program
    .command("login <server-url>")
    .description(
      "pair this machine with a standalone server (approve in its dashboard, or --key for headless machines)",
    )
    .option("--key <pairing-key>", "a pairing key an admin made (dashboard, or `overlord keys create` on the server)")
    .option("--name <name>", "this machine's name in the dashboard (default: its host name)")
    .option(
      "--allow-http",
      "pair over plain http:// with another host (only on an already encrypted network, e.g. a VPN: the token and transcripts travel unencrypted)",
    )
    .action(
      oneLine(async (url: string, opts: { key?: string; allowHttp?: boolean; name?: string }) => {
        await login(paths(), url, {
          ...(opts.key ? { key: opts.key } : {}),
          ...(opts.name ? { name: opts.name } : {}),
          allowHttp: opts.allowHttp ?? false,
          print: (l) => console.log(l),
        })
      }),
    )

  program
    .command("logout")
    .description("unpair this machine: revoke its token on the server (when reachable) and delete server.json")
    .action(oneLine(() => logout(paths(), (l) => console.log(l))))

  const keys = program.command("keys").description("pairing keys for `overlord login <url> --key`")
  keys
    .command("create")
    .description("make a pairing key for a user, on the server's host, straight in its database")
    .requiredOption(
      "--database-url <url>",
      "the server's database: a SQLite path, mysql://… or https://… (PlanetScale)",
    )
    .requiredOption("--user <email>", "the user the paired machines will belong to")
    .option("--ttl-minutes <n>", "how long the key stays valid", positiveInt, 60)
    .option("--multi-use", "usable by several machines until it expires (default: once)")
    .action(
      oneLine(async (opts: { databaseUrl: string; user: string; ttlMinutes: number; multiUse?: boolean }) => {
        const database = parseDatabaseUrl(opts.databaseUrl)
        if (database instanceof DatabaseUrlError) throw new LoginError(database.message)
        const made = await createPairingKey({
          database,
          email: opts.user,
          ttlMinutes: opts.ttlMinutes,
          singleUse: !opts.multiUse,
        })
        console.log(made.key)
        console.error(
          `pairing key for ${opts.user}, ${opts.multiUse ? "usable until" : "single use, valid until"} ${made.expiresAt}: overlord login <server-url> --key <key>`,
        )
      }),
    )
}
