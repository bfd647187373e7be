/**
 * Hosts that never leave this machine: plain http:// to them sends nothing over a network. One rule for
 * every place that decides whether plain http:// is safe: `overlord login` (refused to another host
 * without `--allow-http`), an Ollama URL (warned of), and whether a server shares this host.
 */
export const isLoopbackHost = (hostname: string): boolean =>
  hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname)
