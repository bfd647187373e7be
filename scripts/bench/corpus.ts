/**
 * Benchmark corpus from REAL Claude Code session files (see seed.ts), replicated with fresh ids.
 *
 *   bun scripts/bench/corpus.ts <outDir> [--shape history|large-files] [--seed 42] [--big N] [--medium N]
 *                                        [--small N] [--projects N] [--images N] [--tiny] [--max-files N]
 *
 * `--shape history` (the default) follows a real history's file-size mix: ~2,450 files, ~120 KB on average,
 * mostly small subagent and main files and a few very large ones (`Shape` below says why). `--shape
 * large-files` is the 532.6 MB / 260-file corpus of the earlier figures. `--tiny`: lines > 4 KB dropped.
 *
 * `<outDir>` becomes a CLAUDE_CONFIG_DIR: files land in `<outDir>/projects/<project>/<sessionId>.jsonl` (and
 * `<sessionId>/subagents/agent-<id>.jsonl`). Every copy gets a new sessionId (file names and subagent paths
 * too), new agent ids, and every repetition of the turns gets new uuid/parentUuid/promptId (one consistent map
 * per repetition), message.id, requestId and tool_use ids, so usage dedup sees distinct responses. The cwd is
 * rewritten per project. `<outDir>/manifest.json` records files, bytes, lines and sessions for verification.
 * Deterministic for a given seed.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs"
import { dirname, join, relative } from "node:path"
import { rng as seededRng } from "@overlord/testkit/random"
import { ensureSeed } from "./seed.ts"

export interface Manifest {
  readonly seed: number
  /** Absent in corpora written before shapes existed: those are `large-files`. */
  readonly shape?: Shape
  readonly files: number
  readonly bytes: number
  readonly lines: number
  readonly sessions: number
  readonly projects: number
  readonly imageLines: number
  readonly largestFile: number
  readonly createdAt: string
}

// ---- deterministic randomness -----------------------------------------------------------------
/** The testkit's seeded generator, as a bare function: the corpus is reproducible from its seed. */
const rng = (seed: number) => seededRng(seed).next
type Rand = ReturnType<typeof rng>
const HEX = "0123456789abcdef"
const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const pick = (r: Rand, alphabet: string, n: number) => {
  let out = ""
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(r() * alphabet.length)]
  return out
}
const uuid = (r: Rand) =>
  `${pick(r, HEX, 8)}-${pick(r, HEX, 4)}-4${pick(r, HEX, 3)}-${"89ab"[Math.floor(r() * 4)]}${pick(r, HEX, 3)}-${pick(r, HEX, 12)}`

// ---- seed sessions ------------------------------------------------------------------------------
interface SeedFile {
  readonly rel: string // path below the project folder, with the session id / agent id as in the seed
  readonly lines: string[] // without trailing newline
}
interface SeedSession {
  readonly name: string
  readonly sessionId: string
  readonly projectFolder: string
  readonly cwd: string
  readonly agentIds: string[]
  readonly files: SeedFile[]
}

function walk(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...walk(p))
    else if (e.name.endsWith(".jsonl")) out.push(p)
  }
  return out.sort()
}

function loadSeed(seedDir: string): SeedSession[] {
  const sessions: SeedSession[] = []
  for (const name of readdirSync(seedDir).sort()) {
    const root = join(seedDir, name)
    const [projectFolder] = readdirSync(root)
    if (!projectFolder) continue
    const files = walk(join(root, projectFolder)).map((p) => ({
      rel: relative(join(root, projectFolder), p),
      lines: readFileSync(p, "utf8")
        .split("\n")
        .filter((l) => l.length > 0),
    }))
    const main = files.find((f) => !f.rel.includes("/"))!
    const sessionId = main.rel.replace(/\.jsonl$/, "")
    const agentIds = files.flatMap((f) => /agent-([0-9a-f]+)\.jsonl$/.exec(f.rel)?.slice(1) ?? [])
    const cwd = /"cwd":"([^"]+)"/.exec(main.lines.join("\n"))?.[1] ?? ""
    sessions.push({ name, sessionId, projectFolder, cwd, agentIds, files })
  }
  return sessions
}

// ---- rewriting ---------------------------------------------------------------------------------
const ID_RE =
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|msg_[A-Za-z0-9]+|req_[A-Za-z0-9]+|toolu_[A-Za-z0-9_]+/g

class Rewriter {
  private rep = new Map<string, string>()
  private readonly fixedValues: Set<string>
  constructor(
    private readonly r: Rand,
    private readonly fixed: Map<string, string>, // per copy: session id, agent ids, cwd
    private readonly fixedRe: RegExp,
  ) {
    this.fixedValues = new Set(fixed.values())
  }
  /** New per-repetition ids (uuids other than the session id, message/request/tool ids). */
  nextRepetition(): void {
    this.rep = new Map()
  }
  private fresh(id: string): string {
    if (id.startsWith("msg_")) return `msg_01${pick(this.r, ALNUM, 22)}`
    if (id.startsWith("req_")) return `req_011${pick(this.r, ALNUM, 21)}`
    if (id.startsWith("toolu_")) return `toolu_01${pick(this.r, ALNUM, 22)}`
    return uuid(this.r)
  }
  line(l: string): string {
    const a = l.replace(this.fixedRe, (m) => this.fixed.get(m) ?? m)
    return a.replace(ID_RE, (m) => {
      if (this.fixedValues.has(m)) return m
      let v = this.rep.get(m)
      if (!v) {
        v = this.fresh(m)
        this.rep.set(m, v)
      }
      return v
    })
  }
  fixedValue(k: string): string {
    return this.fixed.get(k) ?? k
  }
}
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A user tool_result line carrying a ~`bytes` base64 image, built from the seed's image line. */
function bigImageLine(template: string, r: Rand, bytes: number): string {
  const raw = Buffer.alloc(Math.floor((bytes * 3) / 4))
  for (let i = 0; i < raw.length; i += 4)
    raw.writeUInt32LE(Math.floor(r() * 0x100000000), i < raw.length - 3 ? i : raw.length - 4)
  return template.replace(/"data":"[A-Za-z0-9+/=]+"/, `"data":"${raw.toString("base64")}"`)
}

/**
 * Which file-size mix a corpus follows.
 *
 * - `history` (the default): a real Claude Code history. A corpus built from a developer's own
 *   `~/.claude/projects` had 2,447 files averaging 123 KB (issue #14 §4), and the 66 real session files in
 *   `shared/fixtures/claude-code/` (13 public repositories) show the same mix in miniature: most files are
 *   small (median 17 KB; subagent files 2–132 KB, median ~20 KB), main sessions spread over three orders of
 *   magnitude (1 KB to 2.8 MB), and the bytes sit in a short tail (the largest 3 of 66 files hold 67 % of
 *   them; what makes a file tens of MB is base64 images in tool results). So: ~950 sessions whose main file
 *   is log-normal around 40 KB (σ 1.3, 3 KB–3 MB), each with 0–12 subagent files log-normal around 20 KB
 *   (σ 1.0, 2–400 KB; about half the sessions have none), 20 medium sessions of 1–5 MB and 5 very large
 *   ones of 15–40 MB carrying 4–9 images of 0.3–1.5 MB each. About 2,450 files, ~300 MB, ~120 KB a file:
 *   per-file costs (open, stat, one frame, one file and session row) weigh as they do on a real machine.
 * - `large-files`: the corpus of the first six sessions' figures (BENCHMARKS.md, 532.6 MB in 260 files:
 *   `--big 5 --medium 110 --small 100`), mostly 2–4 MB files; kept so earlier numbers can be reproduced.
 */
export type Shape = "history" | "large-files"

export interface GenerateOptions {
  readonly seed: number
  readonly shape?: Shape
  /** `large-files`: sessions of 20–50 MB, 2–4 MB, and as recorded; `history`: big = 15–40 MB, medium = 1–5 MB. */
  readonly big: number
  readonly medium: number
  readonly small: number
  readonly projects: number
  /** `large-files`: 1 MB image lines spread over the big and medium sessions. */
  readonly images: number
  readonly tiny: boolean
  readonly maxFiles?: number
}

/** The defaults of each shape, as the CLI and backfill.ts take them. */
export const SHAPE_DEFAULTS: Record<Shape, Omit<GenerateOptions, "seed" | "tiny">> = {
  history: { shape: "history", big: 5, medium: 20, small: 925, projects: 60, images: 0 },
  "large-files": { shape: "large-files", big: 5, medium: 110, small: 100, projects: 100, images: 6 },
}

interface PlannedFile {
  /** Bytes to reach: 0 = the seed file as recorded; below its size the file is cut at a line end. */
  readonly target: number
  /** Image lines of `imageBytes` each, spread through the file. */
  readonly images: number
  readonly imageBytes: number
}
interface PlannedSession {
  readonly main: PlannedFile
  /** `null`: copy the seed session's own subagent files as recorded (`large-files`). */
  readonly subagents: readonly PlannedFile[] | null
}

/** A log-normal draw (Box–Muller over the seeded generator), clipped to [lo, hi]. */
function logNormal(r: Rand, median: number, sigma: number, lo: number, hi: number): number {
  const u = Math.max(r(), 1e-12)
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r())
  return Math.min(hi, Math.max(lo, median * Math.exp(sigma * z)))
}

function planSessions(opts: GenerateOptions, r: Rand): PlannedSession[] {
  const plan: PlannedSession[] = []
  if ((opts.shape ?? "history") === "large-files") {
    // Sizes: big 20–50 MB, medium 2–4 MB, small = the seed session as recorded (or --tiny: trimmed).
    const mains: { target: number; images: number }[] = []
    for (let i = 0; i < opts.big; i++) mains.push({ target: (20 + r() * 30) * 1e6, images: 0 })
    for (let i = 0; i < opts.medium; i++) mains.push({ target: (2 + r() * 2) * 1e6, images: 0 })
    for (let i = 0; i < opts.small; i++) mains.push({ target: 0, images: 0 })
    for (let i = 0; i < opts.images && mains.length > 0; i++)
      mains[Math.floor(r() * Math.min(mains.length, opts.big + opts.medium || mains.length))]!.images += 1
    for (const m of mains) plan.push({ main: { ...m, imageBytes: 1_000_000 }, subagents: null })
    return plan
  }
  const subagents = () => {
    // About half the sessions start no subagent; the rest 1–12, fewer more often.
    const n = r() < 0.5 ? 0 : Math.min(12, 1 + Math.floor(-Math.log(Math.max(r(), 1e-12)) * 2.5))
    return Array.from({ length: n }, () => ({
      target: logNormal(r, 20_000, 1.0, 2_000, 400_000),
      images: 0,
      imageBytes: 0,
    }))
  }
  for (let i = 0; i < opts.big; i++) {
    plan.push({
      main: { target: (12 + r() * 18) * 1e6, images: 4 + Math.floor(r() * 6), imageBytes: (0.3 + r() * 1.2) * 1e6 },
      subagents: subagents(),
    })
  }
  for (let i = 0; i < opts.medium; i++)
    plan.push({ main: { target: (1 + r() * 2) * 1e6, images: 0, imageBytes: 0 }, subagents: subagents() })
  for (let i = 0; i < opts.small; i++)
    plan.push({
      main: { target: logNormal(r, 30_000, 1.2, 3_000, 3_000_000), images: 0, imageBytes: 0 },
      subagents: subagents(),
    })
  // Interleaved, so the newest-first order of a backfill meets large and small files alike.
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1))
    ;[plan[i], plan[j]] = [plan[j]!, plan[i]!]
  }
  return plan
}

export async function generate(outDir: string, opts: GenerateOptions): Promise<Manifest> {
  const seedSessions = loadSeed(await ensureSeed())
  const shape = opts.shape ?? "history"
  const maxFiles = opts.maxFiles ?? Number.POSITIVE_INFINITY
  const imageTemplate = seedSessions
    .flatMap((s) => s.files.flatMap((f) => f.lines))
    .find((l) => l.includes('"type":"image"'))
  // The seed's subagent file (the `subagent` scenario's), copied under new agent ids for `history`.
  const agentSeed = seedSessions.find((s) => s.agentIds.length > 0)
  const agentTemplate = agentSeed?.files.find((f) => f.rel.includes("/"))
  const r = rng(opts.seed)
  rmSync(join(outDir, "projects"), { recursive: true, force: true })
  mkdirSync(join(outDir, "projects"), { recursive: true })
  let files = 0
  let bytes = 0
  let lines = 0
  let sessions = 0
  let imageLines = 0
  let largestFile = 0
  const baseTime = Date.UTC(2026, 0, 1) / 1000

  /** Writes one file: the seed's lines rewritten, cut at `target` or padded up to it by repeating the body. */
  const writeFile = (
    path: string,
    seedLines: readonly string[],
    bodyFrom: number,
    item: PlannedFile,
    rw: Rewriter,
    fixImage: (line: string) => string,
    mtime: number,
  ) => {
    mkdirSync(dirname(path), { recursive: true })
    const fd = openSync(path, "w")
    let size = 0
    let buf: string[] = []
    let bufLen = 0
    const emit = (l: string) => {
      buf.push(l, "\n")
      bufLen += Buffer.byteLength(l) + 1
      lines += 1
      if (bufLen > 4e6) flush()
    }
    const flush = () => {
      if (buf.length === 0) return
      size += writeSync(fd, buf.join(""))
      buf = []
      bufLen = 0
    }
    const srcLines = opts.tiny ? seedLines.filter((l) => l.length < 4096) : seedLines
    rw.nextRepetition()
    for (const [i, l] of srcLines.entries()) {
      // A file smaller than its seed ends at a line end, as a session that stopped there would.
      if (item.target > 0 && i >= 2 && size + bufLen >= item.target) break
      emit(rw.line(l))
    }
    flush()
    if (item.target > 0) {
      const body = srcLines.slice(bodyFrom)
      let images = item.images
      while (size < item.target && body.length > 0) {
        rw.nextRepetition()
        for (const l of body) emit(rw.line(l))
        // Spread through the file: the k-th image once the file is k/(images+1) of its target.
        // (`large-files`: after the first third, as its earlier figures were measured.)
        const at =
          shape === "large-files" ? item.target / 3 : ((item.images - images + 1) * item.target) / (item.images + 1)
        if (images > 0 && imageTemplate && size + bufLen > at) {
          emit(fixImage(rw.line(bigImageLine(imageTemplate, r, item.imageBytes))))
          images -= 1
          imageLines += 1
        }
        flush()
      }
    }
    flush()
    closeSync(fd)
    utimesSync(path, mtime, mtime)
    files += 1
    bytes += size
    largestFile = Math.max(largestFile, size)
  }

  for (const [n, item] of planSessions(opts, r).entries()) {
    if (files >= maxFiles) break
    let src = seedSessions[Math.floor(r() * seedSessions.length)]!
    const wanted = item.subagents ? 1 + item.subagents.length : src.files.length
    // Stop at exactly maxFiles: a session with subagents would overshoot, so take a single-file one.
    if (!item.subagents && files + wanted > maxFiles) src = seedSessions.find((s) => s.files.length === 1) ?? src
    const subagentPlan = item.subagents?.slice(0, Math.max(0, maxFiles - files - 1)) ?? null
    const project = Math.floor(r() * opts.projects)
    const cwd = `/home/dev/work/proj-${String(project).padStart(3, "0")}`
    const folder = cwd.replace(/[^a-zA-Z0-9]/g, "-")
    const sessionId = uuid(r)
    const fixedFor = (s: SeedSession, agentIds: Map<string, string>) => {
      const fixed = new Map<string, string>([[s.sessionId, sessionId], ...agentIds])
      fixed.set(s.cwd, cwd)
      fixed.set(s.cwd.replace(/\/project$/, "/config"), "/home/dev/.claude")
      fixed.set(s.projectFolder, folder)
      const fixedRe = new RegExp(
        [...fixed.keys()]
          .sort((a, b) => b.length - a.length)
          .map(escapeRe)
          .join("|"),
        "g",
      )
      return { fixed, fixedRe }
    }
    const fixImage = (line: string) =>
      // The template comes from another seed session: give it this session's id and cwd.
      line
        .replace(/"sessionId":"[^"]*"/g, `"sessionId":"${sessionId}"`)
        .replace(/"cwd":"[^"]*"/g, `"cwd":"${cwd}"`)
        .replace(/\/tmp\/overlord-claude-[A-Za-z0-9]+\/project/g, cwd)
    const mtime = baseTime + n * 600
    sessions += 1
    const own = fixedFor(src, new Map(src.agentIds.map((a) => [a, pick(r, HEX, a.length)])))
    const rw = new Rewriter(r, own.fixed, own.fixedRe)
    for (const f of src.files) {
      const isMain = !f.rel.includes("/")
      // `history` writes its own subagent files below; the seed's are copied only by `large-files`.
      if (!isMain && subagentPlan) continue
      const path = join(
        outDir,
        "projects",
        folder,
        f.rel.replace(own.fixedRe, (m) => own.fixed.get(m) ?? m),
      )
      writeFile(path, f.lines, 2, isMain ? item.main : { target: 0, images: 0, imageBytes: 0 }, rw, fixImage, mtime)
    }
    if (subagentPlan && agentSeed && agentTemplate) {
      for (const sub of subagentPlan) {
        const agentId = agentSeed.agentIds[0]!
        const m = fixedFor(agentSeed, new Map([[agentId, pick(r, HEX, agentId.length)]]))
        const path = join(
          outDir,
          "projects",
          folder,
          agentTemplate.rel.replace(m.fixedRe, (x) => m.fixed.get(x) ?? x),
        )
        writeFile(path, agentTemplate.lines, 0, sub, new Rewriter(r, m.fixed, m.fixedRe), fixImage, mtime)
      }
    }
  }
  const manifest: Manifest = {
    seed: opts.seed,
    shape,
    files,
    bytes,
    lines,
    sessions,
    projects: readdirSync(join(outDir, "projects")).length,
    imageLines,
    largestFile,
    createdAt: new Date().toISOString(),
  }
  writeFileSync(join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}

export function readManifest(outDir: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(join(outDir, "manifest.json"), "utf8")) as Manifest
  } catch {
    return null
  }
}

/** `--shape` (default `history`) and its defaults, each overridable by its own flag. */
export function shapeOptions(args: string[]): GenerateOptions {
  const i = args.indexOf("--shape")
  const shape = (i >= 0 ? args[i + 1] : "history") as Shape
  if (!(shape in SHAPE_DEFAULTS)) throw new Error(`--shape ${shape}: expected history or large-files`)
  const d = SHAPE_DEFAULTS[shape]
  return {
    shape,
    seed: argValue(args, "--seed", 42),
    big: argValue(args, "--big", d.big),
    medium: argValue(args, "--medium", d.medium),
    small: argValue(args, "--small", d.small),
    projects: argValue(args, "--projects", d.projects),
    images: argValue(args, "--images", d.images),
    tiny: args.includes("--tiny"),
    maxFiles: argValue(args, "--max-files", Number.POSITIVE_INFINITY),
  }
}

export const argValue = (args: string[], name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  const out = args[0]
  if (!out || out.startsWith("--")) {
    console.error(
      "usage: bun scripts/bench/corpus.ts <outDir> [--shape history|large-files] [--seed N] [--big N] [--medium N] [--small N] [--projects N] [--images N] [--tiny] [--max-files N]",
    )
    process.exit(2)
  }
  const t0 = performance.now()
  const m = await generate(out, shapeOptions(args))
  console.log(JSON.stringify(m))
  console.error(
    `corpus (${m.shape}): ${(m.bytes / 1e6).toFixed(1)} MB, ${m.files} files (${(m.bytes / m.files / 1e3).toFixed(0)} KB each on average), ${m.lines} lines in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
}
