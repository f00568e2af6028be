// Median latency of one decision in Node through the wasm-bindgen glue
// (JSON text in and out, as the wasmtime host does), timed per call the way
// benches/decide.rs times native and wasmtime.
// argv: package dir, load request file, decide request file, seconds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [, , pkgDir, loadFile, requestFile, seconds] = process.argv;
const glue = await import(pathToFileURL(join(pkgDir, 'eligo.js')).href);
glue.initSync({ module: readFileSync(join(pkgDir, 'eligo_bg.wasm')) });
const engine = new glue.Engine(readFileSync(loadFile, 'utf8'));
const request = readFileSync(requestFile, 'utf8');
if (engine.decide(request).startsWith('{"error"')) throw new Error(engine.decide(request));

const budget = BigInt(Math.round(Number(seconds) * 1e9));
const until = (end) => {
  while (process.hrtime.bigint() < end) engine.decide(request);
};
until(process.hrtime.bigint() + budget / 3n); // warm-up: let V8 tier up
const samples = [];
const end = process.hrtime.bigint() + budget;
while (process.hrtime.bigint() < end && samples.length < 100000) {
  const start = process.hrtime.bigint();
  engine.decide(request);
  samples.push(Number(process.hrtime.bigint() - start));
}
samples.sort((a, b) => a - b);
console.log(JSON.stringify({ median_ns: samples[samples.length >> 1], samples: samples.length }));
