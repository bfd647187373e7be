/**
 * The server as `overlord serve` runs it (`httpServerLayer`: Bun.serve on a real port), over a real
 * SQLite store in memory, with a small dashboard build of its own.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fromEngine, Store } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer, layer as httpServerLayer, type ServerConfig } from "../../src/http-server.ts"

export const DASHBOARD_MARKER = "overlord-test-dashboard"

export interface RunningServer {
  readonly url: string
  readonly port: number
  readonly engine: SqliteEngine
  readonly userId: number
  /** The cookie pair (`overlord_session=...`) a browser holds after following a login link. */
  signIn(): Promise<string>
  close(): Promise<void>
}

export async function startServer(config: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const webDir = mkdtempSync(join(tmpdir(), "overlord-web-"))
  writeFileSync(join(webDir, "index.html"), `<!doctype html><title>${DASHBOARD_MARKER}</title>`)
  mkdirSync(join(webDir, "assets"))
  writeFileSync(join(webDir, "assets", "app.js"), "console.log('dashboard')")
  const engine = new SqliteEngine({ path: ":memory:" })
  const userId = engine.ensureUser("local")
  const store = fromEngine(engine)
  const scope = await Effect.runPromise(Scope.make())
  const layer = httpServerLayer({ hostname: "127.0.0.1", port: 0, webDir, ...config }).pipe(
    Layer.provide(Layer.succeed(Store, store)),
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope)).catch(async (error: unknown) => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    engine.close()
    rmSync(webDir, { recursive: true, force: true })
    throw error
  })
  const server = Context.get(context, HttpServer)
  return {
    url: server.url,
    port: server.port,
    engine,
    userId,
    async signIn() {
      const link = engine.issueToken({ userId, kind: "login-link", ttlMs: 60_000 })
      const res = await fetch(`${server.url}/auth?token=${link}`, { redirect: "manual" })
      const pair = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? ""
      if (res.status !== 302 || !pair.includes("=")) throw new Error(`sign-in failed: ${res.status}`)
      return pair
    },
    async close() {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      engine.close()
      rmSync(webDir, { recursive: true, force: true })
    },
  }
}

/**
 * What must never reach a client: stack frames, source file names, this checkout's path or the
 * working directory, and the runtime's own error names.
 */
export function leaks(body: string): string[] {
  const found: string[] = []
  if (/\bat [^\n]*[(:]/.test(body) || /^\s+at /m.test(body)) found.push("a stack frame")
  if (body.includes(".ts")) found.push("a source file name")
  if (body.includes(process.cwd())) found.push("the working directory")
  if (body.includes("/work/") || body.includes("apps/server")) found.push("a path")
  if (/URIError|URI error|TypeError|SQLiteError/.test(body)) found.push("an internal error name")
  return found
}
