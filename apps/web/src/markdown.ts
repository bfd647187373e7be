/**
 * Markdown to HTML for transcript text. Transcripts are untrusted (they hold whatever a tool or a
 * web page returned), so raw HTML is always escaped, never passed through, and URLs are limited
 * to safe schemes. The output is the only HTML this app injects.
 */
import hljs from "highlight.js/lib/core"
import { Marked, type Tokens } from "marked"

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

const SAFE_URL = /^(https?:|mailto:|#|\/(?!\/)|\.{0,2}\/)/i
const SAFE_IMAGE = /^(https?:|data:image\/(png|jpe?g|gif|webp);)/i

export const safeUrl = (href: string, image = false): string | null => {
  // Browsers ignore control characters and whitespace inside schemes ("java\nscript:"), so strip them first.
  const cleaned = href.replace(/[\u0000-\u0020\u007f]/g, "")
  if (image) return SAFE_IMAGE.test(cleaned) ? href : null
  if (SAFE_URL.test(cleaned)) return href
  return /^[a-z][a-z0-9+.-]*:/i.test(cleaned) ? null : href
}

type Loader = () => Promise<{ default: Parameters<typeof hljs.registerLanguage>[1] }>

// Each language is its own chunk, fetched the first time a block in that language is shown.
const LOADERS: Record<string, Loader> = {
  bash: () => import("highlight.js/lib/languages/bash"),
  c: () => import("highlight.js/lib/languages/c"),
  cpp: () => import("highlight.js/lib/languages/cpp"),
  csharp: () => import("highlight.js/lib/languages/csharp"),
  css: () => import("highlight.js/lib/languages/css"),
  diff: () => import("highlight.js/lib/languages/diff"),
  dockerfile: () => import("highlight.js/lib/languages/dockerfile"),
  go: () => import("highlight.js/lib/languages/go"),
  java: () => import("highlight.js/lib/languages/java"),
  javascript: () => import("highlight.js/lib/languages/javascript"),
  json: () => import("highlight.js/lib/languages/json"),
  kotlin: () => import("highlight.js/lib/languages/kotlin"),
  markdown: () => import("highlight.js/lib/languages/markdown"),
  php: () => import("highlight.js/lib/languages/php"),
  python: () => import("highlight.js/lib/languages/python"),
  ruby: () => import("highlight.js/lib/languages/ruby"),
  rust: () => import("highlight.js/lib/languages/rust"),
  sql: () => import("highlight.js/lib/languages/sql"),
  swift: () => import("highlight.js/lib/languages/swift"),
  typescript: () => import("highlight.js/lib/languages/typescript"),
  xml: () => import("highlight.js/lib/languages/xml"),
  yaml: () => import("highlight.js/lib/languages/yaml"),
}

const ALIASES: Record<string, string> = {
  sh: "bash",
  shell: "bash",
  zsh: "bash",
  console: "bash",
  js: "javascript",
  jsx: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  ts: "typescript",
  tsx: "typescript",
  mts: "typescript",
  py: "python",
  rb: "ruby",
  rs: "rust",
  yml: "yaml",
  html: "xml",
  svg: "xml",
  md: "markdown",
  "c++": "cpp",
  cc: "cpp",
  h: "c",
  hpp: "cpp",
  cs: "csharp",
  kt: "kotlin",
  jsonl: "json",
  patch: "diff",
  docker: "dockerfile",
}

export const languageName = (lang: string | null | undefined): string | null => {
  if (!lang) return null
  const l = lang.trim().toLowerCase().split(/\s+/)[0] ?? ""
  const name = ALIASES[l] ?? l
  return name in LOADERS ? name : null
}

const EXTENSIONS: Record<string, string> = { dockerfile: "dockerfile", makefile: "bash" }

export const languageForPath = (path: string): string | null => {
  const base = path.split(/[\\/]/).pop()?.toLowerCase() ?? ""
  if (EXTENSIONS[base]) return EXTENSIONS[base] ?? null
  const ext = base.includes(".") ? base.split(".").pop() : undefined
  return languageName(ext)
}

const loading = new Map<string, Promise<void>>()

export const isLanguageLoaded = (name: string): boolean => hljs.getLanguage(name) !== undefined

export const loadLanguage = (name: string): Promise<void> => {
  const loader = LOADERS[name]
  if (!loader || isLanguageLoaded(name)) return Promise.resolve()
  let p = loading.get(name)
  if (!p) {
    p = loader().then((mod) => hljs.registerLanguage(name, mod.default))
    loading.set(name, p)
  }
  return p
}

/** Highlighted HTML if the language is already loaded (hljs escapes its input), else escaped text. */
export const highlightCode = (code: string, lang: string | null): string => {
  if (lang && isLanguageLoaded(lang)) {
    try {
      return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value
    } catch {
      // fall through to plain text
    }
  }
  return escapeHtml(code)
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text)
    },
    code({ text, lang }: Tokens.Code): string {
      const name = languageName(lang)
      const attr = name ? ` data-lang="${escapeHtml(name)}"` : ""
      const label = lang ? `<span class="code-lang">${escapeHtml(lang)}</span>` : ""
      return `<pre class="code">${label}<code class="hljs"${attr}>${highlightCode(text, name)}</code></pre>\n`
    },
    link({ href, title, tokens }: Tokens.Link): string {
      const inner = this.parser.parseInline(tokens)
      const url = safeUrl(href)
      if (url === null) return inner
      const t = title ? ` title="${escapeHtml(title)}"` : ""
      return `<a href="${escapeHtml(url)}"${t} target="_blank" rel="noopener noreferrer nofollow">${inner}</a>`
    },
    image({ href, title, text }: Tokens.Image): string {
      // Remote images would let a transcript ping arbitrary hosts; show them as links instead.
      const url = safeUrl(href, true)
      if (url === null || !url.startsWith("data:")) {
        const safe = safeUrl(href)
        return safe
          ? `<a href="${escapeHtml(safe)}" target="_blank" rel="noopener noreferrer nofollow">${escapeHtml(text || href)}</a>`
          : escapeHtml(text)
      }
      const t = title ? ` title="${escapeHtml(title)}"` : ""
      return `<img src="${escapeHtml(url)}" alt="${escapeHtml(text)}"${t} loading="lazy">`
    },
  },
})

export const renderMarkdown = (text: string): string => marked.parse(text, { async: false })

/** Languages used by fenced blocks in `text`, so the caller can load them before re-rendering. */
export const fencedLanguages = (text: string): string[] => {
  const names = new Set<string>()
  for (const m of text.matchAll(/^ {0,3}(?:```|~~~)\s*([\w+#.-]+)/gm)) {
    const name = languageName(m[1])
    if (name && !isLanguageLoaded(name)) names.add(name)
  }
  return [...names]
}
