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
const { memory } = glue.initSync({ module: readFileSync(join(pkgDir, 'eligo_bg.wasm')) });
const engine = new glue.Engine(readFileSync(loadRequestFile, 'utf8'));

// An error answer is thrown, its JSON text as the message.
const answerOf = (call) => {
  try {
    return { text: call(), error: false };
  } catch (error) {
    return { text: error.message, error: true };
  }
};
const utf8 = new TextEncoder();
const text = new TextDecoder('utf-8', { fatal: true });
// The answer to UTF-8 bytes, kept in the engine: its length (2^31 added
// for an error answer) and where it lies in the instance's memory.
const keptAnswer = (bytes) => {
  const flagged = engine.decideUtf8Kept(bytes);
  const length = flagged % 0x80000000;
  return {
    text: text.decode(new Uint8Array(memory.buffer, engine.keptAnswerPtr(), length)),
    error: flagged >= 0x80000000,
  };
};
// Each request is decided twice, as a string and as UTF-8 bytes: the two
// answers must be the same text, both error answers or neither, or the
// line says how they differ.
const decide = (request) => {
  const answer = answerOf(() => engine.decide(request));
  const bytes = keptAnswer(utf8.encode(request));
  if (bytes.text !== answer.text) return `decideUtf8Kept differs: ${bytes.text}`;
  if (bytes.error !== answer.error) return `decideUtf8Kept flags the answer as an error: ${bytes.error}`;
  return answer.text;
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
