/**
 * What a dashboard with nothing synced yet tells its reader to do. On a team's `overlord serve` a laptop
 * syncs only after `overlord login <this server>`: the old hint ("Run `overlord start` on a laptop")
 * sent it to its own embedded server instead (found in the walkthrough).
 */
export const PairLaptopHint = () => (
  <span data-testid="pair-laptop-hint">
    On each laptop: <code>overlord login {window.location.origin}</code> (approve it here, or use a key from{" "}
    <a href="#/account/pairing-keys">Account → Pairing keys</a>), then <code>overlord start</code>.
  </span>
)
