// Median latency of one decision in Node, timed per call the way
// benches/decide.rs times native and wasmtime: JSON text in and out as a
// string (the wasm-bindgen glue's `decide`), and as UTF-8 bytes through the
// typed API, into a fresh Uint8Array (`decideUtf8`) and into a buffer the
// caller keeps (`decideUtf8Into`); and the typed API's `decide`, objects in
// and out (money as Decimal).
// argv: package dir, load request file, decide request file, seconds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [, , pkgDir, loadFile, requestFile, seconds] = process.argv;
const glue = await import(pathToFileURL(join(pkgDir, 'eligo.js')).href);
const typed = await import(pathToFileURL(join(pkgDir, 'index.js')).href);
typed.initSync(readFileSync(join(pkgDir, 'eligo_bg.wasm')));
const engine = new glue.Engine(readFileSync(loadFile, 'utf8'));
const typedEngine = typed.Engine.load(readFileSync(loadFile, 'utf8'));
const request = readFileSync(requestFile, 'utf8');
if (engine.decide(request).startsWith('{"error"')) throw new Error(engine.decide(request));

const budget = BigInt(Math.round(Number(seconds) * 1e9));
// The median of `decide` timed per call after a warm-up that lets V8 tier up.
const median = (decide) => {
  const warmEnd = process.hrtime.bigint() + budget / 3n;
  while (process.hrtime.bigint() < warmEnd) decide();
  const samples = [];
  const end = process.hrtime.bigint() + budget;
  while (process.hrtime.bigint() < end && samples.length < 100000) {
    const start = process.hrtime.bigint();
    decide();
    samples.push(Number(process.hrtime.bigint() - start));
  }
  samples.sort((a, b) => a - b);
  return [samples[samples.length >> 1], samples.length];
};
// A string in and out (what a page reads), and UTF-8 bytes in and out as
// the native and wasmtime hosts pass them: the request's bytes made once,
// as a host holding them would.
const [medianNs, count] = median(() => engine.decide(request));
const requestBytes = new TextEncoder().encode(request);
const out = new Uint8Array(64 << 10);
const written = typedEngine.decideUtf8Into(requestBytes, out);
const envelope = engine.decide(request);
if (new TextDecoder().decode(typedEngine.decideUtf8(requestBytes)) !== envelope
    || new TextDecoder().decode(out.subarray(0, written)) !== envelope) {
  throw new Error('decideUtf8, decideUtf8Into and decide answer differently');
}
const [utf8MedianNs] = median(() => typedEngine.decideUtf8(requestBytes));
const [intoMedianNs] = median(() => typedEngine.decideUtf8Into(requestBytes, out));
const requestValue = typed.parse(request);
const [typedMedianNs] = median(() => typedEngine.decide(requestValue));
console.log(JSON.stringify({
  median_ns: medianNs,
  utf8_median_ns: utf8MedianNs,
  into_median_ns: intoMedianNs,
  typed_median_ns: typedMedianNs,
  samples: count,
}));
