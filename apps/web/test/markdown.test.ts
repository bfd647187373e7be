import { describe, expect, it } from "vitest"
import { escapeHtml, languageForPath, languageName, renderMarkdown, safeUrl } from "../src/markdown.ts"

describe("renderMarkdown sanitising", () => {
  it("escapes raw script tags instead of emitting them", () => {
    const html = renderMarkdown("hi <script>alert(1)</script> there")
    expect(html).not.toContain("<script")
    expect(html).toContain("&lt;script&gt;")
  })

  it("escapes block-level HTML with event handlers", () => {
    const html = renderMarkdown('<img src=x onerror="alert(1)">\n\n<div onclick="x()">a</div>')
    expect(html).not.toMatch(/<img[^>]*onerror/i)
    expect(html).not.toMatch(/<div[^>]*onclick/i)
    expect(html).toContain("&lt;img")
  })

  it("drops javascript: links but keeps their text", () => {
    const html = renderMarkdown("[click](javascript:alert(1)) and [ok](https://example.com)")
    expect(html).not.toContain("javascript:")
    expect(html).toContain("click")
    expect(html).toContain('href="https://example.com"')
    expect(html).toContain('rel="noopener noreferrer nofollow"')
  })

  it("does not load remote images; data images are allowed", () => {
    const remote = renderMarkdown("![pixel](https://tracker.test/p.png)")
    expect(remote).not.toContain("<img")
    const inline = renderMarkdown("![ok](data:image/png;base64,AAAA)")
    expect(inline).toContain('<img src="data:image/png;base64,AAAA"')
    expect(renderMarkdown("![x](data:image/svg+xml;base64,PHN2Zz4=)")).not.toContain("<img")
  })

  it("escapes code blocks and tags them with a known language", () => {
    const html = renderMarkdown("```ts\nconst a = '<b>'\n```")
    expect(html).toContain('data-lang="typescript"')
    expect(html).toContain("&lt;b&gt;")
    expect(html).not.toContain("<b>")
  })

  it("keeps ordinary markdown", () => {
    const html = renderMarkdown("**bold** and `code`\n\n- item")
    expect(html).toContain("<strong>bold</strong>")
    expect(html).toContain("<code>code</code>")
    expect(html).toContain("<li>item</li>")
  })

  it("escapes attribute-breaking characters in link titles", () => {
    const html = renderMarkdown('[a](https://x.test "t\\" onmouseover=\\"x")')
    expect(html).not.toMatch(/" onmouseover=/)
  })
})

describe("helpers", () => {
  it("escapeHtml escapes the five characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
  })
  it("safeUrl rejects obfuscated schemes", () => {
    expect(safeUrl("java\nscript:alert(1)")).toBeNull()
    expect(safeUrl("vbscript:x")).toBeNull()
    expect(safeUrl("#/sessions/a")).toBe("#/sessions/a")
    expect(safeUrl("docs/readme.md")).toBe("docs/readme.md")
  })
  it("maps aliases and paths to languages", () => {
    expect(languageName("sh")).toBe("bash")
    expect(languageName("nonsense")).toBeNull()
    expect(languageForPath("/repo/src/app.tsx")).toBe("typescript")
    expect(languageForPath("Dockerfile")).toBe("dockerfile")
  })
})
