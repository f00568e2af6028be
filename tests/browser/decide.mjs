// Decides JSON requests in headless Chromium through the typed API
// (index.js over the wasm-bindgen glue), exactly as a web form would:
// argv[2] is the package directory (target/wasm), argv[3] a load request
// file; stdin holds one decide request per line, stdout gets one answer per
// line, in order: the envelope re-serialised from its typed form (which must
// give back the engine's bytes), or the error answer.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const [, , pkgDir, loadRequestFile] = process.argv;
const loadRequest = readFileSync(loadRequestFile, 'utf8');
const requests = readFileSync(0, 'utf8').split('\n').filter((line) => line.length > 0);

const page = `<!doctype html><meta charset="utf-8"><script type="module">
import { init, Engine, EligoError, parse, stringify } from './index.js';
import { Engine as RawEngine } from './eligo.js';
window.ready = (async () => {
  await init(); // the artifact beside index.js, fetched
  const load = await (await fetch('./load.json')).text();
  const engine = Engine.load(load);
  // Requests that are not JSON cannot be typed values; the glue's JSON-text
  // engine answers those.
  const raw = new RawEngine(load);
  window.decide = (request) => {
    let typed;
    try {
      typed = parse(request);
    } catch {
      try {
        return raw.decide(request);
      } catch (error) {
        return error.message; // an error answer is thrown as its JSON text
      }
    }
    try {
      return stringify(engine.decide(typed));
    } catch (error) {
      if (error instanceof EligoError) return error.answer;
      throw error;
    }
  };
})();
</script>`;
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const server = createServer((req, res) => {
  const path = normalize(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
  if (path === '' || path === 'index.html') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  } else if (path === 'load.json') {
    res.writeHead(200, { 'content-type': types['.json'] }).end(loadRequest);
  } else if (['index.js', 'eligo.js', 'eligo_bg.wasm'].includes(path)) {
    res.writeHead(200, { 'content-type': types[extname(path)] }).end(readFileSync(join(pkgDir, path)));
  } else {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const tab = await browser.newPage();
  tab.on('pageerror', (error) => process.stderr.write(`page error: ${error}\n`));
  await tab.goto(`http://127.0.0.1:${port}/index.html`);
  await tab.evaluate(() => window.ready);
  for (let start = 0; start < requests.length; start += 500) {
    const chunk = requests.slice(start, start + 500);
    const answers = await tab.evaluate((batch) => batch.map((r) => window.decide(r)), chunk);
    process.stdout.write(answers.join('\n') + '\n');
  }
} finally {
  await browser.close();
  server.close();
}
