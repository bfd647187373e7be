/**
 * How many entries a session has, in words: one rule for the session list, the session page's header and
 * `overlord sessions`. Entries are the main transcript's (what the session page pages through); a session
 * whose main transcript is missing (only `<session>/subagents/agent-*.jsonl` synced, or the main file
 * deleted before it was) is counted by its subagents' entries instead and says so ("28 subagent entries"),
 * where all three said "0 entries" over a transcript the page shows (walkthrough-5).
 */
export function sessionEntriesLabel(s: { readonly entryCount: number; readonly subagentEntryCount?: number }): string {
  const sub = s.subagentEntryCount ?? 0
  if (s.entryCount === 0 && sub > 0) return `${sub} subagent ${sub === 1 ? "entry" : "entries"}`
  return `${s.entryCount} ${s.entryCount === 1 ? "entry" : "entries"}`
}
