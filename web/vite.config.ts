import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The bundle is served by the Python package (src/slicelens/server/static); during
// development `npm run dev` proxies the API to a running `slicelens serve`.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/slicelens/server/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: { proxy: { "/api": "http://127.0.0.1:8765" } },
});
