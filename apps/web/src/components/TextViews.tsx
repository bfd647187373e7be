/** Leaf text renderers: markdown, ANSI terminal output, source files, raw JSON, long-text clamping. */
import { type CSSProperties, type ReactNode, useEffect, useMemo, useState } from "react"
import { type AnsiStyle, parseAnsi } from "../ansi.ts"
import {
  fencedLanguages,
  highlightCode,
  isLanguageLoaded,
  languageForPath,
  loadLanguage,
  renderMarkdown,
} from "../markdown.ts"

/** Re-renders once the named highlight.js languages are loaded (they are fetched on demand). */
const useLanguages = (names: readonly string[]): number => {
  const [version, setVersion] = useState(0)
  const key = names.join(",")
  useEffect(() => {
    if (!key) return
    let live = true
    Promise.all(key.split(",").map(loadLanguage)).then(
      () => live && setVersion((v) => v + 1),
      () => undefined,
    )
    return () => {
      live = false
    }
  }, [key])
  return version
}

export const Markdown = ({ text, className }: { text: string; className?: string }) => {
  const pending = useMemo(() => fencedLanguages(text), [text])
  const version = useLanguages(pending)
  // biome-ignore lint/correctness/useExhaustiveDependencies: version re-highlights after a language loads
  const html = useMemo(() => renderMarkdown(text), [text, version])
  return (
    <div
      className={`markdown ${className ?? ""}`}
      // biome-ignore lint/security/noDangerouslySetInnerHtml: renderMarkdown escapes all raw HTML and unsafe URLs
      dangerouslySetInnerHTML={{ __html: html }}
    />
  )
}

const ansiStyle = (s: AnsiStyle): { className: string; style: CSSProperties } => {
  const classes: string[] = []
  const style: CSSProperties = {}
  let fg = s.fg
  let bg = s.bg
  if (s.inverse) {
    ;[fg, bg] = [bg ?? "ansi-default-bg", fg ?? "ansi-default-fg"]
  }
  if (fg?.startsWith("ansi-")) classes.push(`${fg}-fg`)
  else if (fg) style.color = fg
  if (bg?.startsWith("ansi-")) classes.push(`${bg}-bg`)
  else if (bg) style.backgroundColor = bg
  if (s.bold) classes.push("ansi-bold")
  if (s.dim) classes.push("ansi-dim")
  if (s.italic) classes.push("ansi-italic")
  if (s.underline) classes.push("ansi-underline")
  if (s.strike) classes.push("ansi-strike")
  return { className: classes.join(" "), style }
}

export const AnsiText = ({ text }: { text: string }) => {
  const segments = useMemo(() => parseAnsi(text), [text])
  return (
    <>
      {segments.map((seg, i) => {
        if (Object.keys(seg.style).length === 0) return seg.text
        const { className, style } = ansiStyle(seg.style)
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: segments are positional and never reorder
          <span key={i} className={className} style={style}>
            {seg.text}
          </span>
        )
      })}
    </>
  )
}

export const Terminal = ({ text, error = false }: { text: string; error?: boolean }) => (
  <LongText text={text}>
    {(shown) => (
      <pre className={`terminal${error ? " terminal-error" : ""}`}>
        <AnsiText text={shown} />
      </pre>
    )}
  </LongText>
)

const CLAMP_CHARS = 12_000

/** Tool output can be megabytes; render the head and let the reader ask for the rest. */
export const LongText = ({ text, children }: { text: string; children: (shown: string) => ReactNode }) => {
  const [all, setAll] = useState(false)
  const clamped = !all && text.length > CLAMP_CHARS
  return (
    <>
      {children(clamped ? text.slice(0, CLAMP_CHARS) : text)}
      {clamped && (
        <button type="button" className="link-button" onClick={() => setAll(true)}>
          Show all ({Math.round(text.length / 1024)} KB)
        </button>
      )}
    </>
  )
}

export const CodeView = ({ code, path, startLine = 1 }: { code: string; path?: string | null; startLine?: number }) => {
  const lang = path ? languageForPath(path) : null
  const version = useLanguages(lang && !isLanguageLoaded(lang) ? [lang] : [])
  return (
    <LongText text={code}>
      {(shown) => <CodeLines code={shown} lang={lang} startLine={startLine} version={version} />}
    </LongText>
  )
}

const CodeLines = ({
  code,
  lang,
  startLine,
  version,
}: {
  code: string
  lang: string | null
  startLine: number
  version: number
}) => {
  // biome-ignore lint/correctness/useExhaustiveDependencies: version re-highlights after a language loads
  const html = useMemo(() => highlightCode(code.replace(/\n$/, ""), lang), [code, lang, version])
  const count = code.replace(/\n$/, "").split("\n").length
  const numbers = useMemo(
    () => Array.from({ length: count }, (_, i) => String(startLine + i)).join("\n"),
    [count, startLine],
  )
  return (
    <div className="code-view">
      <pre className="gutter" aria-hidden="true">
        {numbers}
      </pre>
      {/* biome-ignore lint/security/noDangerouslySetInnerHtml: highlightCode output is escaped by hljs or escapeHtml */}
      <pre className="code hljs" dangerouslySetInnerHTML={{ __html: html }} />
    </div>
  )
}

export const JsonView = ({ value }: { value: unknown }) => {
  const text = useMemo(() => {
    try {
      return JSON.stringify(value, null, 2) ?? String(value)
    } catch {
      return String(value)
    }
  }, [value])
  return <LongText text={text}>{(shown) => <pre className="json">{shown}</pre>}</LongText>
}

export const Raw = ({ label, value }: { label: string; value: unknown }) => (
  <details className="raw">
    <summary>{label}</summary>
    {typeof value === "string" ? <pre className="json">{value}</pre> : <JsonView value={value} />}
  </details>
)

/** Search snippets mark matches with « »; turn those into <mark> without touching any HTML. */
export const Snippet = ({ text }: { text: string }) => {
  const parts = text.split(/(«[^»]*»)/g)
  return (
    <>
      {parts.map((p, i) =>
        p.startsWith("«") && p.endsWith("»") ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: positional
          <mark key={i}>{p.slice(1, -1)}</mark>
        ) : (
          p
        ),
      )}
    </>
  )
}
