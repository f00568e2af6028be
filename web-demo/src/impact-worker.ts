// A policy impact in a Web Worker: every household of a population file
// (JSON Lines) decided by the base and by the draft, accumulated by the
// engine's own Impact (the code `eligo impact` runs), with progress. The
// file is read here, in the browser; it never leaves it. Memory stays
// bounded: the file is streamed line by line and only the accumulator grows.
import type { Eligo, EligoModule } from './engine';

export interface ImpactJob {
  module: string;
  wasm: string;
  artifact: string;
  /** The base bundle, packed JSON text. */
  base: string;
  /** The draft's files. */
  draft: Record<string, string>;
  file: File;
  entry: string;
  as_of: string;
  lang: string;
}

export interface BadLine {
  line: number;
  message: string;
}

export type ImpactMessage =
  | { kind: 'progress'; households: number; bytes: number; total: number }
  | { kind: 'done'; report: Eligo.ImpactReport; bad: BadLine[]; badCount: number; seconds: number }
  | { kind: 'failed'; message: string };

/** Bad lines reported by number, at most (the rest are counted). */
const KEPT_BAD_LINES = 20;
/** Households between progress messages. */
const PROGRESS_EVERY = 500;

const post = (message: ImpactMessage) => (self as unknown as Worker).postMessage(message);

/** The file's lines, with their numbers, read as a stream. */
async function* lines(file: File, read: (bytes: number) => void): AsyncGenerator<[number, string]> {
  const reader = file.stream().getReader();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let pending = '';
  let number = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (value) {
      read(value.byteLength);
      pending += decoder.decode(value, { stream: true });
    }
    if (done) pending += decoder.decode();
    let at: number;
    while ((at = pending.indexOf('\n')) >= 0) {
      yield [++number, pending.slice(0, at).replace(/\r$/, '')];
      pending = pending.slice(at + 1);
    }
    if (done) {
      if (pending.length > 0) yield [++number, pending];
      return;
    }
  }
}

async function run(job: ImpactJob): Promise<void> {
  const started = performance.now();
  const mod = (await import(/* @vite-ignore */ job.module)) as EligoModule;
  await mod.init(job.wasm);
  const base = mod.Engine.load(job.base, { artifact: job.artifact });
  const draft = mod.Engine.load({ files: job.draft }, { artifact: job.artifact });
  const impact = new mod.Impact();
  const bad: BadLine[] = [];
  let badCount = 0;
  let households = 0;
  let bytes = 0;
  const decide = (engine: Eligo.Engine, input: Record<string, unknown>): Eligo.Envelope | Eligo.EligoError => {
    try {
      return engine.decide({ entry: job.entry, input, as_of: job.as_of, mode: 'strict', lang: job.lang });
    } catch (error) {
      if (error instanceof mod.EligoError) return error;
      throw error;
    }
  };
  for await (const [number, text] of lines(job.file, (n) => (bytes += n))) {
    if (text.trim() === '') continue;
    let input: Record<string, unknown>;
    try {
      input = mod.parse(text) as Record<string, unknown>;
      if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('not a JSON object');
    } catch (error) {
      badCount++;
      if (bad.length < KEPT_BAD_LINES) bad.push({ line: number, message: `not JSON: ${(error as Error).message}` });
      continue;
    }
    const id = typeof input.id === 'string' ? input.id : `line ${number}`;
    impact.add(id, decide(base, input), decide(draft, input));
    households++;
    if (households % PROGRESS_EVERY === 0) post({ kind: 'progress', households, bytes, total: job.file.size });
  }
  const report = impact.report();
  impact.free();
  base.free();
  draft.free();
  post({ kind: 'done', report, bad, badCount, seconds: (performance.now() - started) / 1000 });
}

self.onmessage = (event: MessageEvent<ImpactJob>) => {
  run(event.data).catch((error: unknown) => post({ kind: 'failed', message: error instanceof Error ? error.message : String(error) }));
};
