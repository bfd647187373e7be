/**
 * The daemon's sync socket: connect, `hello`, the server's `welcome` (version skew checked), decoding
 * what the server says, reconnecting with backoff, and remote command messages kept while it is down.
 * It knows nothing of files: it hands the decoded messages to its owner (`SyncEngine`).
 */
import { type Commands, Sync } from "@overlord/protocol"
import { Schema } from "effect"
import WebSocket from "ws"
import type { Logger } from "./logger.ts"
import { withServerUrl } from "./server-credentials.ts"

export const DAEMON_VERSION = "0.1.0"

/** Where a connection syncs to, and with which machine token. */
export interface ConnectionTarget {
  readonly serverUrl: string
  readonly token: string
  /** The machine's name, when the stored credentials say it (a login may rename the machine). */
  readonly machineName?: string
}

/**
 * The stored credentials (`server.json`, written by `overlord login`), read again at every connect and
 * whenever they may have changed: a new login (a new token, maybe another server) is picked up by the
 * running daemon, which before kept its old token and stayed refused until restarted.
 */
export interface CredentialSource {
  /** The credentials stored now; null when there are none (after `overlord logout`): the last ones are kept. */
  readonly current: () => ConnectionTarget | null
  /** Calls `listener` when the stored credentials may have changed; returns what stops it. */
  readonly watch: (listener: () => void) => () => void
}

export interface ConnectionOptions {
  /** The server's base URL, `http://host:port`. */
  readonly serverUrl: string
  readonly machineId: string
  readonly machineName: string
  readonly token: string
  /** Read again at each connect and when they change; without it `serverUrl` and `token` are kept. */
  readonly credentials?: CredentialSource
  /** Set when this engine syncs a child machine (a sandbox's files) with its parent's `token`. */
  readonly parent?: Sync.MachineParent
  readonly log: Logger
  /** What this daemon accepts of remote commands, told in `hello` and `status`. */
  readonly remote?: () => Sync.RemoteCapabilities
  /**
   * The server named this machine otherwise (a dashboard rename, told at welcome or at once while
   * connected): the owner keeps it (`machine.json`). Given, the hello asks for it (`machineNames`); a
   * sandbox's sync gives none, its machine being named by the laptop.
   */
  readonly onMachineName?: (name: string) => void
}

/** What the server says that its owner acts on (a refusal or an error only fails the connection). */
export type ServerEvent = Exclude<
  Sync.ServerMessage,
  Sync.Welcome | Sync.Refused | Sync.ProtocolError | Sync.MachineName
>

export interface ConnectionEvents {
  /** A server this daemon can sync with welcomed it: `ready` is true and kept command messages are sent. */
  readonly welcome: (msg: Sync.Welcome) => Promise<void> | void
  readonly message: (msg: ServerEvent) => Promise<void> | void
  /** The socket closed; a reconnect is scheduled. */
  readonly closed: () => void
  /** Something to show in `status` and the log. */
  readonly failed: (message: string) => void
}

const decodeServer = Schema.decodeUnknownExit(Sync.ServerMessageFromJson)
const zeroMask = (mask: Buffer) => void mask.fill(0)

/** The `message` of a `refused` that does not decode (a newer server's refusal code), else null. */
function refusalMessageOf(text: string): string | null {
  const message = (JSON.parse(text) as { message?: unknown }).message
  return typeof message === "string" ? message : null
}

export class SyncConnection {
  private socket: WebSocket | null = null
  private welcomed = false
  /** Message types from the server this daemon does not know, each warned about once. */
  private readonly unknownTypes = new Set<string>()
  private stopped = false
  private attempt = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  /** Messages for the server while it is unreachable, sent in order at the next welcome. */
  private readonly commandOutbox: Commands.CommandDaemonMessage[] = []
  /** The server and token of the current (or next) socket: the options', then the stored credentials'. */
  private target: ConnectionTarget
  private unwatchCredentials: (() => void) | null = null

  constructor(
    private readonly options: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    this.target = { serverUrl: options.serverUrl, token: options.token }
  }

  private get machineName(): string {
    return this.target.machineName ?? this.options.machineName
  }

  /** The server this connection syncs to (changes when a new `overlord login` pairs another one). */
  get serverUrl(): string {
    return this.target.serverUrl
  }

  /** Welcomed on the current socket (stays true after `stop`, as nothing is synced any more). */
  get ready(): boolean {
    return this.welcomed
  }

  /** Welcomed, and the socket still there: frames and notices can be sent. */
  get open(): boolean {
    return this.welcomed && this.socket !== null
  }

  start(): void {
    this.stopped = false
    this.unwatchCredentials ??= this.options.credentials?.watch(() => this.credentialsChanged()) ?? null
    this.connect()
  }

  stop(): void {
    this.stopped = true
    this.unwatchCredentials?.()
    this.unwatchCredentials = null
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.socket?.close(1000, "daemon stopping")
    this.socket = null
  }

  /** Sends on the socket; the caller checked `open`. */
  send(message: string | Uint8Array): void {
    this.socket!.send(message)
  }

  /**
   * Sends a command runner's message, or keeps it until the next welcome while disconnected. A
   * message on a socket that dies before the server reads it is lost; the command's exit is kept in
   * the runner's journal and re-sent when the server redelivers a command it has no ack for.
   */
  sendCommandMessage(message: Commands.CommandDaemonMessage): void {
    if (this.welcomed && this.socket && this.socket.readyState === WebSocket.OPEN && this.commandOutbox.length === 0) {
      this.socket.send(JSON.stringify(message))
      return
    }
    this.commandOutbox.push(message)
    if (this.welcomed) this.flushCommandMessages()
  }

  private flushCommandMessages(): void {
    while (this.commandOutbox.length > 0 && this.welcomed && this.socket && this.socket.readyState === WebSocket.OPEN)
      this.socket.send(JSON.stringify(this.commandOutbox.shift()))
  }

  /** The stored credentials when they differ from the ones in use, else null. */
  private changedTarget(): ConnectionTarget | null {
    const next = this.options.credentials?.current() ?? null
    return next &&
      (next.serverUrl !== this.target.serverUrl ||
        next.token !== this.target.token ||
        (next.machineName ?? this.options.machineName) !== this.machineName)
      ? next
      : null
  }

  /**
   * New credentials were stored: the socket in use (refused, or still open to the old server) is
   * dropped and a new one opened with them at once. Nothing is lost or sent twice: as at any
   * disconnect the engine forgets what is in flight and resumes from the cursors of the next welcome.
   */
  private credentialsChanged(): void {
    if (this.stopped || this.changedTarget() === null) return
    this.attempt = 0
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer)
      this.reconnectTimer = null
    }
    // `terminate`, not `close`: an old server that no longer answers would hold a close for 30 s.
    if (this.socket) this.socket.terminate()
    else this.connect()
  }

  private connect(): void {
    if (this.stopped) return
    const next = this.changedTarget()
    if (next) {
      this.options.log.info(
        next.serverUrl === this.target.serverUrl
          ? `new credentials for ${next.serverUrl} (overlord login): connecting with them`
          : `this machine is now paired with ${next.serverUrl} (overlord login): syncing there, no longer to ${this.target.serverUrl}`,
      )
      this.target = next
    }
    const url = `${this.target.serverUrl.replace(/^http/, "ws")}/api/v1/sync`
    const socket = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      // A zero mask, which `ws` recognises and skips: with a random one it XORed every frame into a
      // copy (7.6 % of the daemon's thread in a backfill of a history, and a second copy of every byte
      // shipped, which the in-place header exists to avoid). Masking protects a browser's proxies from
      // script-chosen bytes (RFC 6455 §10.3); this client is no browser, and its bytes are the user's.
      generateMask: zeroMask,
    })
    this.socket = socket
    socket.binaryType = "nodebuffer"
    socket.on("open", () => {
      const hello: Sync.Hello = {
        type: "hello",
        protocolVersion: Sync.PROTOCOL_VERSION,
        protocolMinor: Sync.PROTOCOL_MINOR,
        daemonVersion: DAEMON_VERSION,
        machineId: this.options.machineId,
        machineName: this.machineName,
        token: this.target.token,
        ...(this.options.remote ? { remote: this.options.remote() } : {}),
        ...(this.options.parent ? { parent: this.options.parent } : {}),
        ...(this.options.onMachineName ? { machineNames: true } : {}),
      }
      socket.send(JSON.stringify(hello))
    })
    socket.on("message", (data, isBinary) => {
      if (isBinary) return
      void this.onServerMessage(String(data))
    })
    socket.on("error", (error) => {
      this.events.failed(`connection to ${this.target.serverUrl}: ${error.message}`)
    })
    socket.on("close", () => {
      if (this.socket !== socket) return
      this.socket = null
      this.welcomed = false
      this.events.closed()
      this.scheduleReconnect()
    })
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return
    // Exponential backoff with full jitter, so many daemons don't return in lockstep.
    const cap = Math.min(30_000, 250 * 2 ** Math.min(this.attempt, 10))
    const delay = 100 + Math.random() * cap
    this.attempt += 1
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      this.connect()
    }, delay)
  }

  /**
   * The server's name for this machine: the next hello says it (so it is not taken for a rename made on
   * this laptop: the server keeps it either way), and the owner keeps it.
   */
  private named(name: string): void {
    if (name === this.machineName || !this.options.onMachineName) return
    this.target = { ...this.target, machineName: name }
    this.options.onMachineName(name)
  }

  private async onServerMessage(text: string): Promise<void> {
    const exit = decodeServer(text)
    if (exit._tag === "Failure") {
      const type = Sync.messageTypeOf(text)
      if (type !== null && !Sync.SERVER_MESSAGE_TYPES.has(type)) {
        // From a newer server (one minor ahead, `Sync.protocolSkew`): ignored, said once per type.
        if (!this.unknownTypes.has(type)) {
          this.unknownTypes.add(type)
          this.options.log.warn(
            `ignored a "${type}" message from the server: this daemon does not know it (a newer server)`,
          )
        }
        return
      }
      // A refusal this daemon cannot decode in full (a newer server's code) still says why.
      const refusal = type === "refused" ? refusalMessageOf(text) : null
      this.events.failed(
        refusal !== null
          ? `the server refused this daemon: ${withServerUrl(refusal, this.target.serverUrl)}`
          : `unreadable message from the server: ${text.slice(0, 200)}`,
      )
      return
    }
    const msg = exit.value
    switch (msg.type) {
      case "welcome": {
        const skew = Sync.protocolSkew(
          { major: Sync.PROTOCOL_VERSION, minor: Sync.PROTOCOL_MINOR, app: DAEMON_VERSION },
          { ...Sync.protocolLevelOf(msg), app: msg.serverVersion },
        )
        if (skew) {
          // A server that does not check (released before `protocolMinor`) is refused from this side.
          this.events.failed(`this daemon refuses the server: ${skew.message}`)
          this.socket?.close(4000, "incompatible_protocol")
          return
        }
        this.attempt = 0
        this.welcomed = true
        if (msg.machineName !== undefined) this.named(msg.machineName)
        this.flushCommandMessages()
        return this.events.welcome(msg)
      }
      case "machine-name":
        this.named(msg.name)
        return
      case "refused":
        // Its "run `overlord login <this server's URL>`" names the server here: in the log and the status
        // alike, and right after a new login moved this connection elsewhere.
        this.events.failed(`the server refused this daemon: ${withServerUrl(msg.message, this.target.serverUrl)}`)
        return
      case "error":
        this.events.failed(`server: ${msg.message}`)
        return
      default:
        return this.events.message(msg)
    }
  }
}
