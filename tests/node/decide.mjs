// Decides JSON requests with the wasm-bindgen glue of the engine in Node:
// argv[2] is the directory holding eligo.js and eligo_bg.wasm, argv[3] a
// load request file; each stdin line is a decide request and each stdout
// line its answer, in order.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [, , pkgDir, loadRequestFile] = process.argv;
const glue = await import(pathToFileURL(join(pkgDir, 'eligo.js')).href);
glue.initSync({ module: readFileSync(join(pkgDir, 'eligo_bg.wasm')) });
const engine = new glue.Engine(readFileSync(loadRequestFile, 'utf8'));

// An error answer is thrown, its JSON text as the message.
const decide = (request) => {
  try {
    return engine.decide(request);
  } catch (error) {
    return error.message;
  }
};

const out = [];
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  out.push(decide(line));
  if (out.length >= 256) {
    process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  }
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
