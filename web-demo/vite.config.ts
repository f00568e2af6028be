import { defineConfig } from 'vite';
import { resolve } from 'node:path';

// Two pages and a service worker. The engine is not bundled: the pages
// import it at runtime from the server's /engine/<sha256>/ path.
export default defineConfig({
  server: { fs: { allow: ['..'] } },
  // The playground's impact worker is an ES module (it imports the engine).
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        main: resolve(import.meta.dirname, 'index.html'),
        playground: resolve(import.meta.dirname, 'playground.html'),
        sw: resolve(import.meta.dirname, 'src/sw.ts'),
      },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
