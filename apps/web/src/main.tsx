import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { App } from "./components/App.tsx"
import { standalonePage } from "./components/StandalonePage.tsx"
import "./styles.css"

const root = document.getElementById("root")
if (root) {
  createRoot(root).render(<StrictMode>{standalonePage(window.location) ?? <App />}</StrictMode>)
}
