/**
 * The CLI's local-AI parts (issue #13): the Ollama flags of `start` and `serve`, `overlord search`,
 * and the Ollama section of `overlord doctor`. Added to the commands `cli.ts` builds, in one call.
 */
import { describeOllamaHealth, makeOllamaClient, ollamaInClearWarning } from "@overlord/ai"
import { type Api, isLoopbackHost } from "@overlord/protocol"
import type { Command } from "commander"
import { Effect } from "effect"
import {
  ConfigFileError,
  configPath,
  exportOllamaFlags,
  type OllamaFlagValues,
  rememberHome,
  resolveOllama,
} from "./ai-settings.ts"
import type { HomePaths } from "./home.ts"
// The paired server's (server.json) when there is one, else the embedded server's: the same server
// `sessions` and `export` ask (this read only the embedded one's, so a paired laptop's `search` said
// "not started" while its daemon ran).
import { loadCredentials, NO_SERVER_MESSAGE, refusedMessage, unreachableMessage } from "./server-credentials.ts"
import { oneLineTitle } from "./terminal-text.ts"

class AiCliError extends Error {}

/** A generated title as the CLI shows it: marked, with its model. */
export const generatedLabel = (s: Api.SessionSummary): string | null =>
  s.generatedTitle ? `${s.generatedTitle} [generated · ${s.titleModel ?? "?"}]` : null

async function get<T>(p: HomePaths, path: string): Promise<T> {
  const creds = loadCredentials(p)
  if (!creds) throw new AiCliError(NO_SERVER_MESSAGE)
  let res: Response
  try {
    res = await fetch(`${creds.serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${creds.apiToken}` } })
  } catch {
    throw new AiCliError(unreachableMessage(p, creds.serverUrl))
  }
  if (res.status === 401) throw new AiCliError(refusedMessage(p, creds.serverUrl))
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as Api.ApiError | null
    throw new AiCliError(body?.error.message ?? `${res.status} ${res.statusText}`)
  }
  return (await res.json()) as T
}

const failing =
  <A extends unknown[]>(f: (...args: A) => Promise<void>) =>
  async (...args: A) => {
    try {
      await f(...args)
    } catch (error) {
      if (!(error instanceof AiCliError) && !(error instanceof ConfigFileError)) throw error
      console.error(`overlord: ${error.message}`)
      process.exitCode = 1
    }
  }

/** Whether `url` names this host (a server there sees the same Ollama URLs as this CLI). */
const isLoopback = (url: string): boolean => isLoopbackHost(new URL(url).hostname)

export function addAiCommands(program: Command, paths: () => HomePaths): void {
  // Flags on `start` and `serve`, handed to the server's thread through the environment.
  for (const name of ["start", "serve"]) {
    const command = program.commands.find((c) => c.name() === name)
    if (!command) continue
    command
      .option(
        "--ollama-url <url>",
        "Ollama for titles and semantic search (default $OLLAMA_HOST or 127.0.0.1:11434; `off`)",
      )
      .option("--ollama-chat-model <model>", "the model that writes titles and summaries (default llama3.2)")
      .option("--ollama-embed-model <model>", "the embedding model for semantic search (default nomic-embed-text)")
      .option(
        "--ollama-allow-http",
        'plain http:// to an Ollama on another host is on an encrypted network (VPN, SSH tunnel): do not warn (or "allowHttp": true under "ollama" in config.json)',
      )
      .hook("preAction", (_, action) => {
        const flags = action.opts<OllamaFlagValues>()
        exportOllamaFlags(flags)
        rememberHome(paths().home)
        // A config file that does not validate stops here, not later on the server's thread.
        resolveOllama(paths().home, flags)
      })
  }

  program
    .command("search <query...>")
    .description("search every session by words and by meaning (hybrid; --semantic: by meaning only)")
    .option("--semantic", "by meaning only")
    .option("--text", "by words only (the full-text index)")
    .option("--project <dir>", "only this project (its encoded folder name)")
    .option("--limit <n>", "how many sessions", (v) => Number(v), 10)
    .option("--json", "machine-readable")
    .action(
      failing(
        async (
          words: string[],
          opts: { semantic?: boolean; text?: boolean; project?: string; limit: number; json?: boolean },
        ) => {
          const mode: Api.SearchMode = opts.semantic ? "semantic" : opts.text ? "text" : "hybrid"
          const params = new URLSearchParams({ q: words.join(" "), mode, limit: String(opts.limit) })
          if (opts.project) params.set("project", opts.project)
          const result = await get<Api.HybridSearchResult>(paths(), `/search?${params}`)
          if (opts.json) return console.log(JSON.stringify(result, null, 2))
          if (!result.semantic.available && mode !== "text") {
            console.log(`(by words only: ${result.semantic.reason ?? "semantic search is unavailable"})`)
          }
          if (result.hits.length === 0) console.log("no matches")
          for (const h of result.hits) {
            const by = h.matched.map((m) => (m === "meaning" ? "meaning" : "text")).join("+")
            console.log(`${h.sessionId}  ${h.title ? oneLineTitle(h.title) : "(untitled)"}  [matched by ${by}]`)
            console.log(`    #${h.seq}  ${oneLineTitle(h.snippet, 160)}`)
          }
          if (result.indexLag > 0) console.log(`(${result.indexLag} entries not indexed yet)`)
        },
      ),
    )

  // `overlord doctor`: whether Ollama is reachable and its models pulled, and what the server's indexer says.
  const doctor = program.commands.find((c) => c.name() === "doctor")
  doctor
    ?.option("--ollama-url <url>", "the Ollama to check (default as `overlord start` would use)")
    .option("--ollama-allow-http", "plain http:// to it is on an encrypted network: do not warn")
    .hook(
      "postAction",
      failing(async (_, action) => {
        const flags = action.opts<OllamaFlagValues>()
        const home = paths().home
        const creds = loadCredentials(paths())
        const status = creds ? await get<Api.AiStatus>(paths(), "/ai/status").catch(() => null) : null
        // The Ollama a server on this host uses (`start --ollama-url` is not saved anywhere doctor reads),
        // unless the user named one: checking the default instead said "not reachable at
        // 127.0.0.1:11434" about an Ollama the daemon never used. A remote server's Ollama is its host's.
        const serverOllama =
          flags.ollamaUrl === undefined && status?.enabled && creds && isLoopback(creds.serverUrl)
            ? { ollamaUrl: status.ollamaUrl, ollamaChatModel: status.chatModel, ollamaEmbedModel: status.embedModel }
            : null
        const config = resolveOllama(home, serverOllama ?? flags)
        if (!config) {
          console.log("info  local AI is off (ollama url `off`): no generated titles or semantic search")
          return
        }
        const health = await Effect.runPromise(makeOllamaClient({ ...config, timeoutMs: 3_000 }).health)
        const line = describeOllamaHealth(health)
        console.log(`${health._tag === "Ready" ? "ok   " : "warn "} ${line}`)
        // For the server's Ollama, the server's own word (`AiStatus.warning`): its flags and environment,
        // which doctor cannot see, may have said the network is encrypted. An Ollama named here: judged here.
        const inClear =
          serverOllama && status
            ? (status.warning ?? null)
            : ollamaInClearWarning(config.url, { allowHttp: config.allowHttp })
        if (inClear) console.log(`warn  ${inClear}`)
        if (health._tag !== "Ready") {
          console.log(
            `info  without it sync and full-text search work as always; titles and semantic search wait for it (settings: flags, ${configPath(home)})`,
          )
        }
        if (!status) return
        console.log(
          `info  the server's indexer: ${status.state}; ${status.titled}/${status.sessions} sessions titled, ${status.embeddedSessions} embedded (${status.chunks} chunks)${status.reason ? `; ${status.reason}` : ""}`,
        )
      }),
    )
}
