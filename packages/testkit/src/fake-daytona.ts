/**
 * A stand-in for Daytona (control plane + per-sandbox toolbox) that the real, unmodified
 * `@daytonaio/sdk@0.218.0` accepts. It speaks the wire protocol of `../shared/reference/daytona-wire.md`
 * (§3, §6, §8): one Bun server for `/api/...` (control plane) and `/toolbox/<sandboxId>/...`
 * (toolbox), plus the log-stream WebSocket with its 3-byte stdout/stderr markers.
 *
 * Each sandbox is a folder under a temp dir (`home/` is its HOME and work dir, `bin/` the tools the
 * "snapshot" installed, `tmp/` its TMPDIR). Its toolbox runs commands as LOCAL processes with
 * `bash -c` there, so real git and the real Claude Code CLI run "in the sandbox". Paths inside the
 * sandbox are the folder's real absolute paths: clients should ask for the home dir, as they
 * must with real Daytona. Not mimicked: a session's cwd and exported variables do not persist
 * from one command to the next (each command is a fresh `bash -c`).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, isAbsolute, join, relative, resolve } from "node:path"
import type { ServerWebSocket } from "bun"

export interface FakeDaytonaOptions {
  /** The only key accepted as `Authorization: Bearer <key>`; anything else is answered 401. */
  readonly apiKey?: string
  /** Executables every sandbox has on its PATH (name → absolute path): what the snapshot installed. */
  readonly tools?: Readonly<Record<string, string>>
  /** Milliseconds a sandbox spends in `creating`/`starting` before `started`. */
  readonly startDelayMs?: number
}

/** Failures a test can switch on at any time. */
export interface FakeDaytonaFaults {
  /** `POST /sandbox` is refused as Daytona refuses an organization over its quota (403). */
  quotaExceeded: boolean
  /** Sandboxes created or started from now on stay in `creating`/`starting` forever. */
  neverStart: boolean
  /** `POST /git/clone` fails as the daemon reports a repository it cannot find (404). */
  gitCloneFails: boolean
  /**
   * The API key was revoked on Daytona's side: every request is answered 401 as a wrong key is, so a
   * test need not restart the client with another key.
   */
  keyRevoked: boolean
  /**
   * Only snapshots made here (`POST /snapshots`) exist: `POST /sandbox` naming any other is refused as
   * Daytona refuses it, a 400 "Snapshot X not found. Did you add it through the Daytona Dashboard?"
   * (its sandbox service throws a BadRequestError, not a 404), and `GET /snapshots/X` is the 404 it
   * always is. Off by default, so tests need not build the snapshot first.
   */
  unknownSnapshots: boolean
}

export type FakeDaytonaPlane = "api" | "toolbox"

export interface FakeDaytonaRequest {
  readonly plane: FakeDaytonaPlane
  readonly method: string
  /** Path below `/api` or below `/toolbox/<sandboxId>`. */
  readonly path: string
  readonly query: string
  readonly sandboxId?: string
  readonly headers: Readonly<Record<string, string>>
  /** The raw body as text (multipart uploads included), for assertions on what was sent. */
  readonly body: string
  readonly status: number
}

export interface FakeSandbox {
  readonly id: string
  readonly name: string
  state: string
  readonly labels: Record<string, string>
  readonly env: Readonly<Record<string, string>>
  readonly snapshot: string | undefined
  autoStopInterval: number
  /** The sandbox's folder on this machine; `home` is its HOME and work dir. */
  readonly root: string
  readonly home: string
}

export interface FakeSnapshot {
  readonly id: string
  readonly name: string
  readonly state: string
  readonly dockerfileContent: string | undefined
  readonly imageName: string | undefined
}

export interface FakeDaytona {
  /** Pass as `DaytonaConfig.apiUrl`. */
  readonly apiUrl: string
  readonly apiKey: string
  readonly port: number
  readonly requests: readonly FakeDaytonaRequest[]
  readonly faults: FakeDaytonaFaults
  readonly sandboxes: ReadonlyMap<string, FakeSandbox>
  readonly snapshots: ReadonlyMap<string, FakeSnapshot>
  /** Problems the fake noticed (unknown endpoints, bad bodies); tests should expect it empty. */
  readonly errors: readonly string[]
  readonly stop: () => Promise<void>
}

const STDOUT_MARK = new Uint8Array([1, 1, 1])
const STDERR_MARK = new Uint8Array([2, 2, 2])
const DOWNLOAD_BOUNDARY = "DAYTONA-FILE-BOUNDARY"

interface SessionCommand {
  readonly id: string
  readonly command: string
  exitCode: number | undefined
  /** Everything logged so far, markers included, replayed to each new log stream. */
  readonly log: Uint8Array[]
  readonly stdout: Uint8Array[]
  readonly stderr: Uint8Array[]
  readonly followers: Set<ServerWebSocket<LogSocketData>>
  process?: Bun.Subprocess
}

interface LogSocketData {
  readonly command: SessionCommand
}

const concat = (parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const decoder = new TextDecoder()
const text = (parts: readonly Uint8Array[]): string => decoder.decode(concat(parts))

/** The API's error body (NestJS + Daytona's filter). */
const apiError = (status: number, error: string, message: string, path: string): Response =>
  Response.json({ statusCode: status, error, message, path, timestamp: new Date().toISOString() }, { status })

/** The toolbox daemon's error body. */
const daemonError = (status: number, code: string, message: string, path: string, method: string): Response =>
  Response.json({ statusCode: status, code, message, path, method, timestamp: new Date().toISOString() }, { status })

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const stringRecord = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x
  return out
}

export async function startFakeDaytona(options: FakeDaytonaOptions = {}): Promise<FakeDaytona> {
  const apiKey = options.apiKey ?? "dtn_fake_test_key_0000"
  const startDelayMs = options.startDelayMs ?? 30
  const root = await mkdtemp(join(tmpdir(), "overlord-fake-daytona-"))
  const requests: FakeDaytonaRequest[] = []
  const errors: string[] = []
  const faults: FakeDaytonaFaults = {
    quotaExceeded: false,
    neverStart: false,
    gitCloneFails: false,
    keyRevoked: false,
    unknownSnapshots: false,
  }
  const sandboxes = new Map<string, FakeSandbox>()
  const snapshots = new Map<string, FakeSnapshot>()
  const sessions = new Map<string, Map<string, Map<string, SessionCommand>>>()
  const processes = new Set<Bun.Subprocess>()
  let counter = 0
  let port = 0

  const toolboxProxyUrl = () => `http://127.0.0.1:${port}/toolbox`

  const dto = (s: FakeSandbox, listItem = false) => ({
    id: s.id,
    organizationId: "org-fake",
    name: s.name,
    user: "daytona",
    ...(listItem ? {} : { env: s.env, volumes: [] }),
    labels: s.labels,
    public: false,
    networkBlockAll: false,
    target: "us",
    cpu: 1,
    gpu: 0,
    memory: 1,
    disk: 3,
    snapshot: s.snapshot,
    state: s.state,
    desiredState: s.state === "creating" || s.state === "starting" ? "started" : s.state,
    autoStopInterval: s.autoStopInterval,
    autoArchiveInterval: 10080,
    autoDeleteInterval: -1,
    toolboxProxyUrl: toolboxProxyUrl(),
  })

  /** `creating`/`starting` → `started` after the delay, unless the fault holds it there. */
  const settle = (s: FakeSandbox) => {
    if (faults.neverStart) return
    setTimeout(() => {
      if (s.state === "creating" || s.state === "starting") s.state = "started"
    }, startDelayMs)
  }

  const findSandbox = (idOrName: string): FakeSandbox | undefined =>
    sandboxes.get(idOrName) ?? [...sandboxes.values()].find((s) => s.name === idOrName)

  /** Spawns `bash -c command` in the sandbox with its HOME, PATH (tools first) and TMPDIR. */
  const spawnIn = (
    s: FakeSandbox,
    command: string,
    cwd: string | undefined,
    envs: Readonly<Record<string, string>>,
    mergeStderr: boolean,
  ): Bun.Subprocess<"ignore", "pipe", "pipe"> => {
    const proc = Bun.spawn(["bash", "-c", mergeStderr ? `exec 2>&1\n${command}` : command], {
      cwd: cwd ? resolveIn(s, cwd) : s.home,
      env: {
        PATH: `${join(s.root, "bin")}:${process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"}`,
        HOME: s.home,
        USER: "daytona",
        TMPDIR: join(s.root, "tmp"),
        LANG: "C.UTF-8",
        ...s.env,
        ...envs,
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    })
    processes.add(proc)
    void proc.exited.then(() => processes.delete(proc))
    return proc
  }

  /** A sandbox path: relative to its home (the work dir); absolute paths must stay inside its folder. */
  const resolveIn = (s: FakeSandbox, path: string): string => {
    const p = isAbsolute(path) ? resolve(path) : resolve(s.home, path)
    const rel = relative(s.root, p)
    if (rel.startsWith("..") || isAbsolute(rel)) throw new OutsideSandbox(path)
    return p
  }

  class OutsideSandbox extends Error {}

  /** Real git, run as the sandbox would (its HOME), without blocking the server. */
  const git = async (s: FakeSandbox, argv: readonly string[]): Promise<{ exitCode: number; stderr: string }> => {
    const proc = Bun.spawn([...argv], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: s.home },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    })
    const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
    return { exitCode, stderr: stderr.trim() }
  }

  const createSandbox = async (body: Record<string, unknown>): Promise<FakeSandbox> => {
    counter += 1
    const id = `sbx-${String(counter).padStart(4, "0")}-${Math.random().toString(36).slice(2, 8)}`
    const sandboxRoot = join(root, id)
    const s: FakeSandbox = {
      id,
      name: typeof body.name === "string" && body.name !== "" ? body.name : id,
      state: "creating",
      labels: stringRecord(body.labels),
      env: stringRecord(body.env),
      snapshot: typeof body.snapshot === "string" ? body.snapshot : undefined,
      autoStopInterval: typeof body.autoStopInterval === "number" ? body.autoStopInterval : 15,
      root: sandboxRoot,
      home: join(sandboxRoot, "home"),
    }
    // Registered before the first await, so a concurrent create of the same name is a 409.
    sandboxes.set(id, s)
    await mkdir(s.home, { recursive: true })
    await mkdir(join(sandboxRoot, "tmp"), { recursive: true })
    await mkdir(join(sandboxRoot, "bin"), { recursive: true })
    for (const [name, target] of Object.entries(options.tools ?? {})) {
      const wrapper = join(sandboxRoot, "bin", name)
      await writeFile(wrapper, `#!/bin/sh\nexec '${target.replaceAll("'", "'\\''")}' "$@"\n`, { mode: 0o755 })
    }
    settle(s)
    return s
  }

  const handleApi = async (req: Request, path: string, url: URL, body: string): Promise<Response> => {
    const json = (): Record<string, unknown> => {
      try {
        const v: unknown = JSON.parse(body || "{}")
        return isRecord(v) ? v : {}
      } catch {
        return {}
      }
    }
    const m = req.method
    if (m === "POST" && path === "/sandbox") {
      if (faults.quotaExceeded) {
        // What Daytona's API answers when an organization's CPU quota is used up (a NestJS
        // ForbiddenException from `validateOrganizationQuotas`).
        return apiError(
          403,
          "Forbidden",
          "Total CPU limit exceeded. Maximum allowed: 10.\nTo increase concurrency limits, upgrade your organization's Tier by visiting https://app.daytona.io/dashboard/limits.",
          "/api/sandbox",
        )
      }
      const b = json()
      if (faults.unknownSnapshots && typeof b.snapshot === "string" && !snapshots.has(b.snapshot))
        return apiError(
          400,
          "Bad Request",
          `Snapshot ${b.snapshot} not found. Did you add it through the Daytona Dashboard?`,
          "/api/sandbox",
        )
      if (typeof b.name === "string" && findSandbox(b.name))
        return apiError(409, "Conflict", `Sandbox with name ${b.name} already exists`, "/api/sandbox")
      return Response.json(dto(await createSandbox(b)))
    }
    if (m === "GET" && path === "/sandbox") {
      const labels = stringRecord(JSON.parse(url.searchParams.get("labels") ?? "{}"))
      const states = url.searchParams.getAll("states")
      const items = [...sandboxes.values()]
        .filter((s) => s.state !== "destroyed")
        .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .filter((s) => states.length === 0 || states.includes(s.state))
        .map((s) => dto(s, true))
      return Response.json({ items, nextCursor: null })
    }
    if (m === "POST" && path === "/snapshots") {
      const b = json()
      const name = typeof b.name === "string" ? b.name : ""
      const buildInfo = isRecord(b.buildInfo) ? b.buildInfo : undefined
      const snap: FakeSnapshot = {
        id: `snap-${snapshots.size + 1}`,
        name,
        state: "active",
        dockerfileContent: typeof buildInfo?.dockerfileContent === "string" ? buildInfo.dockerfileContent : undefined,
        imageName: typeof b.imageName === "string" ? b.imageName : undefined,
      }
      snapshots.set(name, snap)
      return Response.json(snapshotDto(snap))
    }
    const snapMatch = /^\/snapshots\/([^/]+)$/.exec(path)
    if (m === "GET" && snapMatch) {
      const key = decodeURIComponent(snapMatch[1]!)
      const snap = snapshots.get(key) ?? [...snapshots.values()].find((x) => x.id === key)
      return snap ? Response.json(snapshotDto(snap)) : apiError(404, "Not Found", `Snapshot ${key} not found`, path)
    }
    const sm = /^\/sandbox\/([^/]+)(\/.*)?$/.exec(path)
    if (sm) {
      const s = findSandbox(decodeURIComponent(sm[1]!))
      if (!s || s.state === "destroyed")
        return apiError(404, "Not Found", `Sandbox with ID or name ${sm[1]} not found`, `/api${path}`)
      const rest = sm[2] ?? ""
      if (m === "GET" && rest === "") return Response.json(dto(s))
      if (m === "DELETE" && rest === "") {
        s.state = "destroyed"
        return Response.json(dto(s))
      }
      if (m === "POST" && rest === "/start") {
        if (s.state !== "started") {
          s.state = "starting"
          settle(s)
        }
        return Response.json(dto(s))
      }
      if (m === "POST" && rest === "/stop") {
        s.state = "stopped"
        return Response.json(dto(s))
      }
      const auto = /^\/autostop\/(\d+)$/.exec(rest)
      if (m === "POST" && auto) {
        s.autoStopInterval = Number(auto[1])
        return new Response(null, { status: 200 })
      }
      if (m === "PUT" && rest === "/labels") {
        const labels = stringRecord(json().labels)
        for (const k of Object.keys(s.labels)) delete s.labels[k]
        Object.assign(s.labels, labels)
        return Response.json({ labels: s.labels })
      }
      if (m === "POST" && rest === "/last-activity") return new Response(null, { status: 201 })
      if (m === "GET" && rest === "/toolbox-proxy-url") return Response.json({ url: toolboxProxyUrl() })
      const preview = /^\/ports\/(\d+)\/preview-url$/.exec(rest)
      if (m === "GET" && preview)
        return Response.json({
          sandboxId: s.id,
          url: `http://127.0.0.1:${port}/preview/${s.id}`,
          token: "preview-token",
        })
    }
    errors.push(`unknown control-plane endpoint: ${m} ${path}`)
    return apiError(404, "Not Found", `Cannot ${m} ${path}`, `/api${path}`)
  }

  const snapshotDto = (s: FakeSnapshot) => ({
    id: s.id,
    organizationId: "org-fake",
    general: false,
    name: s.name,
    imageName: s.imageName ?? s.name,
    state: s.state,
    size: 1,
    entrypoint: null,
    cpu: 1,
    gpu: 0,
    mem: 1,
    disk: 3,
    errorReason: null,
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    lastUsedAt: null,
    buildInfo: s.dockerfileContent === undefined ? undefined : { dockerfileContent: s.dockerfileContent },
  })

  const runSessionCommand = (s: FakeSandbox, command: SessionCommand): Promise<void> => {
    const proc = spawnIn(s, command.command, undefined, {}, false)
    command.process = proc
    const pump = async (stream: ReadableStream<Uint8Array>, mark: Uint8Array, into: Uint8Array[]) => {
      for await (const chunk of stream) {
        into.push(chunk)
        // The daemon's labeler prefixes every chunk, so a reader can always tell the streams apart.
        const framed = concat([mark, chunk])
        command.log.push(framed)
        for (const ws of command.followers) ws.sendBinary(framed)
      }
    }
    return Promise.all([
      pump(proc.stdout, STDOUT_MARK, command.stdout),
      pump(proc.stderr, STDERR_MARK, command.stderr),
      proc.exited,
    ]).then(([, , code]) => {
      command.exitCode = code
      for (const ws of command.followers) ws.close(1000, "command finished")
      command.followers.clear()
    })
  }

  const handleToolbox = async (req: Request, s: FakeSandbox, path: string, body: string) => {
    const m = req.method
    const fail = (status: number, code: string, message: string) => daemonError(status, code, message, path, m)
    const json = (): Record<string, unknown> => {
      try {
        const v: unknown = JSON.parse(body || "{}")
        return isRecord(v) ? v : {}
      } catch {
        return {}
      }
    }
    if (s.state !== "started") return fail(502, "BAD_GATEWAY", `sandbox ${s.id} is ${s.state}`)
    if (m === "GET" && (path === "/user-home-dir" || path === "/work-dir")) return Response.json({ dir: s.home })
    if (m === "POST" && path === "/process/execute") {
      const b = json()
      if (typeof b.command !== "string") return fail(400, "INVALID_REQUEST_BODY", "command is required")
      const proc = spawnIn(s, b.command, typeof b.cwd === "string" ? b.cwd : undefined, stringRecord(b.envs), true)
      const timeout = typeof b.timeout === "number" && b.timeout > 0 ? b.timeout * 1000 : 0
      let timedOut = false
      const timer = timeout
        ? setTimeout(() => {
            timedOut = true
            proc.kill("SIGKILL")
          }, timeout)
        : undefined
      const [result, exitCode] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
      clearTimeout(timer)
      if (timedOut) return fail(408, "PROCESS_EXECUTION_TIMEOUT", "command execution timeout")
      return Response.json({ exitCode, result })
    }
    if (m === "GET" && path === "/process/session")
      return Response.json(
        [...(sessions.get(s.id)?.entries() ?? [])].map(([sessionId, cmds]) => ({
          sessionId,
          commands: [...cmds.values()].map(commandDto),
        })),
      )
    if (m === "POST" && path === "/process/session") {
      const sessionId = json().sessionId
      if (typeof sessionId !== "string") return fail(400, "INVALID_REQUEST_BODY", "sessionId is required")
      const of = sessions.get(s.id) ?? new Map<string, Map<string, SessionCommand>>()
      sessions.set(s.id, of)
      if (of.has(sessionId)) return fail(409, "CONFLICT", `session ${sessionId} already exists`)
      of.set(sessionId, new Map())
      return new Response(null, { status: 201 })
    }
    const sess = /^\/process\/session\/([^/]+)(\/.*)?$/.exec(path)
    if (sess) {
      const sessionId = decodeURIComponent(sess[1]!)
      const cmds = sessions.get(s.id)?.get(sessionId)
      if (!cmds) return fail(404, "NOT_FOUND", `session ${sessionId} not found`)
      const rest = sess[2] ?? ""
      if (m === "DELETE" && rest === "") {
        // Like the daemon, deleting a session ends what still runs in it.
        for (const c of cmds.values()) c.process?.kill("SIGTERM")
        sessions.get(s.id)?.delete(sessionId)
        return new Response(null, { status: 204 })
      }
      if (m === "GET" && rest === "") return Response.json({ sessionId, commands: [...cmds.values()].map(commandDto) })
      if (m === "POST" && rest === "/exec") {
        const b = json()
        if (typeof b.command !== "string") return fail(400, "INVALID_REQUEST_BODY", "command is required")
        const command: SessionCommand = {
          id: crypto.randomUUID(),
          command: b.command,
          exitCode: undefined,
          log: [],
          stdout: [],
          stderr: [],
          followers: new Set(),
        }
        cmds.set(command.id, command)
        const done = runSessionCommand(s, command)
        if (b.runAsync === true || b.async === true) return Response.json({ cmdId: command.id }, { status: 202 })
        await done
        return Response.json({
          cmdId: command.id,
          output: text(command.stdout) + text(command.stderr),
          stdout: text(command.stdout),
          stderr: text(command.stderr),
          exitCode: command.exitCode,
        })
      }
      const cm = /^\/command\/([^/]+)(\/logs)?$/.exec(rest)
      const command = cm ? cmds.get(decodeURIComponent(cm[1]!)) : undefined
      if (cm && !command) return fail(404, "NOT_FOUND", `command ${cm[1]} not found`)
      if (m === "GET" && cm && command && !cm[2]) return Response.json(commandDto(command))
      if (m === "GET" && cm && command && cm[2])
        return Response.json({
          output: text(command.stdout) + text(command.stderr),
          stdout: text(command.stdout),
          stderr: text(command.stderr),
        })
    }
    if (m === "POST" && path === "/files/bulk-upload") {
      const form = await new Request("http://x", {
        method: "POST",
        headers: { "content-type": req.headers.get("content-type") ?? "" },
        body: Buffer.from(body, "latin1"),
      }).formData()
      const paths = new Map<string, string>()
      const files = new Map<string, Blob>()
      for (const [key, value] of form.entries()) {
        const fm = /^files\[(\d+)\]\.(path|file)$/.exec(key)
        if (!fm) continue
        if (fm[2] === "path" && typeof value === "string") paths.set(fm[1]!, value)
        if (fm[2] === "file" && typeof value !== "string") files.set(fm[1]!, value)
      }
      for (const [i, dest] of paths) {
        const blob = files.get(i)
        if (!blob) return fail(400, "INVALID_REQUEST_BODY", `files[${i}].file is missing`)
        const target = resolveIn(s, dest)
        await mkdir(dirname(target), { recursive: true })
        await writeFile(target, new Uint8Array(await blob.arrayBuffer()))
      }
      return new Response(null, { status: 200 })
    }
    if (m === "POST" && path === "/files/bulk-download") {
      const b = json()
      const paths = Array.isArray(b.paths) ? b.paths.filter((p): p is string => typeof p === "string") : []
      const enc = new TextEncoder()
      const parts: Uint8Array[] = []
      for (const p of paths) {
        const bytes = await readFile(resolveIn(s, p)).catch(() => undefined)
        const disposition = (name: string) => `Content-Disposition: form-data; name="${name}"; filename="${p}"\r\n`
        if (bytes) {
          parts.push(
            enc.encode(
              `--${DOWNLOAD_BOUNDARY}\r\n${disposition("file")}Content-Type: application/octet-stream\r\nContent-Length: ${bytes.length}\r\n\r\n`,
            ),
            bytes,
            enc.encode("\r\n"),
          )
        } else {
          const err = JSON.stringify({ message: `file not found: ${p}`, statusCode: 404, code: "FILE_NOT_FOUND" })
          parts.push(
            enc.encode(
              `--${DOWNLOAD_BOUNDARY}\r\n${disposition("error")}Content-Type: application/json\r\n\r\n${err}\r\n`,
            ),
          )
        }
      }
      parts.push(enc.encode(`--${DOWNLOAD_BOUNDARY}--\r\n`))
      return new Response(concat(parts), {
        headers: { "content-type": `multipart/form-data; boundary=${DOWNLOAD_BOUNDARY}` },
      })
    }
    if (m === "POST" && path === "/git/clone") {
      const b = json()
      if (typeof b.url !== "string" || typeof b.path !== "string")
        return fail(400, "INVALID_REQUEST_BODY", "url and path are required")
      // The daemon's classifyGitError: a repository it cannot find is a 404, anything else a 400.
      if (faults.gitCloneFails) return fail(404, "NOT_FOUND", "repository not found")
      const target = resolveIn(s, b.path)
      const args = [
        "git",
        "clone",
        "-q",
        ...(typeof b.branch === "string" ? ["--branch", b.branch] : []),
        b.url,
        target,
      ]
      const clone = await git(s, args)
      if (clone.exitCode !== 0) return fail(400, "BAD_REQUEST", clone.stderr)
      if (typeof b.commit_id === "string") {
        const co = await git(s, ["git", "-C", target, "checkout", "-q", b.commit_id])
        if (co.exitCode !== 0) return fail(404, "NOT_FOUND", co.stderr)
      }
      return new Response(null, { status: 200 })
    }
    errors.push(`unknown toolbox endpoint: ${m} ${path}`)
    return fail(404, "NOT_FOUND", `Cannot ${m} ${path}`)
  }

  const commandDto = (c: SessionCommand) => ({
    id: c.id,
    command: c.command,
    ...(c.exitCode === undefined ? {} : { exitCode: c.exitCode }),
  })

  const server = Bun.serve<LogSocketData>({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, srv) {
      const url = new URL(req.url)
      const headers = Object.fromEntries(req.headers.entries())
      const isUpgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket"
      const body = isUpgrade || req.method === "GET" ? "" : Buffer.from(await req.arrayBuffer()).toString("latin1")
      const tb = /^\/toolbox\/([^/]+)(\/.*)$/.exec(url.pathname)
      const plane: FakeDaytonaPlane = tb ? "toolbox" : "api"
      const path = tb ? tb[2]! : url.pathname.replace(/^\/api/, "")
      const record = (status: number) => {
        requests.push({
          plane,
          method: req.method,
          path,
          query: url.search,
          ...(tb ? { sandboxId: tb[1]! } : {}),
          headers,
          body,
          status,
        })
      }
      const respond = async (): Promise<Response | undefined> => {
        if (faults.keyRevoked || req.headers.get("authorization") !== `Bearer ${apiKey}`) {
          return tb
            ? daemonError(401, "UNAUTHORIZED", "Unauthorized", path, req.method)
            : apiError(401, "Unauthorized", "Invalid credentials", url.pathname)
        }
        if (!tb) {
          if (!url.pathname.startsWith("/api/"))
            return apiError(404, "Not Found", `Cannot ${req.method} ${url.pathname}`, url.pathname)
          return handleApi(req, path, url, body)
        }
        const s = sandboxes.get(tb[1]!)
        if (!s || s.state === "destroyed")
          return daemonError(404, "NOT_FOUND", `sandbox ${tb[1]} not found`, path, req.method)
        const logs = /^\/process\/session\/([^/]+)\/command\/([^/]+)\/logs$/.exec(path)
        if (isUpgrade && logs && url.searchParams.get("follow") === "true") {
          const command = sessions.get(s.id)?.get(decodeURIComponent(logs[1]!))?.get(decodeURIComponent(logs[2]!))
          if (!command) return daemonError(404, "NOT_FOUND", `command ${logs[2]} not found`, path, req.method)
          if (srv.upgrade(req, { data: { command } })) return undefined
          return daemonError(400, "BAD_REQUEST", "websocket upgrade failed", path, req.method)
        }
        return handleToolbox(req, s, path, body)
      }
      try {
        const res = await respond()
        record(res?.status ?? 101)
        return res
      } catch (e) {
        const status = e instanceof OutsideSandbox ? 400 : 500
        record(status)
        if (status === 500) errors.push(`${req.method} ${url.pathname}: ${String(e)}`)
        return tb
          ? daemonError(
              status,
              status === 400 ? "INVALID_FILE_PATH" : "INTERNAL_SERVER_ERROR",
              String(e),
              path,
              req.method,
            )
          : apiError(status, "Internal Server Error", String(e), url.pathname)
      }
    },
    websocket: {
      open(ws) {
        const { command } = ws.data
        // Replay what was logged so far, then follow; a finished command closes at once, like the daemon.
        if (command.log.length > 0) ws.sendBinary(concat(command.log))
        if (command.exitCode !== undefined) ws.close(1000, "command finished")
        else command.followers.add(ws)
      },
      message() {},
      close(ws) {
        ws.data.command.followers.delete(ws)
      },
    },
  })
  port = server.port ?? 0

  return {
    apiUrl: `http://127.0.0.1:${port}/api`,
    apiKey,
    port,
    requests,
    faults,
    sandboxes,
    snapshots,
    errors,
    stop: async () => {
      for (const p of processes) p.kill("SIGKILL")
      await server.stop(true)
      await rm(root, { recursive: true, force: true })
    },
  }
}
