// The policy playground: open the server's bundle (or a packed bundle file),
// edit its files, see diagnostics underlined as you type, rerun its tests,
// and see which test cases and sample households change decision — all in
// this browser. A permalink pins the engine, the bundle and its changes and
// an input; "Publish" sends the draft to the server.
import householdSample from '../../examples/household.json?raw';
import solitarySample from '../../examples/solitary.json?raw';
import communitySample from '../../examples/community.json?raw';
import householdsJsonl from '../../examples/households.jsonl?raw';
import { parseDocument, visit, isScalar } from 'yaml';
import { fetchJson, loadModule, sha256, type Eligo, type EligoModule, type EngineCurrent } from './engine';
import { el } from './form';
import type { ImpactJob, ImpactMessage } from './impact-worker';
import { renderEnvelope } from './results';
import { labelsFor } from './labels';
import { words } from './i18n';
import { chosenLang, header, offlineReady } from './common';
import { generate } from './population';

type Json = Eligo.Json;
type Obj = { [key: string]: Json };
type Files = Record<string, string>;

const AS_OF_DEFAULT = '2026-11-20T09:00:00+08:00';
const SAMPLES: Record<string, string[]> = {
  household: [householdSample, solitarySample, ...householdsJsonl.split('\n').filter((l) => l.trim())],
  community: [communitySample],
};
const GENERATED = 150;

interface Case {
  kind: 'test' | 'sample';
  name: string;
  entry: string;
  as_of: string;
  mode: Eligo.Mode;
  lang?: string;
  input: Json;
}

type Outcome = { envelope: Eligo.Envelope } | { error: Eligo.EligoError };

interface Link {
  v: 1;
  engine: string;
  policy: string;
  base: string;
  draft: string;
  changes: Record<string, string | null>;
  entry: string;
  as_of: string;
  lang: string;
  input: string;
  decision: string;
}

const S = {
  current: undefined as unknown as EngineCurrent,
  mod: undefined as unknown as EligoModule,
  lang: 'en',
  policyName: '',
  base: undefined as unknown as Eligo.PackedBundle,
  baseText: '',
  baseEngine: undefined as unknown as Eligo.Engine,
  baseOutcomes: [] as Outcome[],
  baseCost: undefined as Cost | undefined,
  cases: [] as Case[],
  files: {} as Files,
  selected: '',
  draft: undefined as Eligo.Engine | undefined,
  report: undefined as Eligo.CheckReport | undefined,
};

const $ = (id: string) => document.getElementById(id)!;

// ---- layout -------------------------------------------------------------------

function layout(): void {
  const policySelect = el('select', { id: 'policy' });
  for (const p of S.current.policies) policySelect.append(el('option', { value: p.name, selected: p.name === S.policyName }, `${p.name} (${p.hash.slice(7, 19)})`));
  policySelect.addEventListener('change', () => void openServerBundle(policySelect.value));
  const fileInput = el('input', { type: 'file', id: 'open-file', accept: '.json,application/json' });
  fileInput.addEventListener('change', () => void openFile(fileInput.files?.[0]));
  const reset = el('button', { type: 'button', id: 'reset' }, 'Reset draft');
  reset.addEventListener('click', () => {
    S.files = { ...S.base.files };
    showFiles();
    selectFile(S.selected);
    recompute();
  });
  const token = el('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'admin token' });
  const publish = el('button', { type: 'button', id: 'publish', class: 'primary' }, 'Publish');
  publish.addEventListener('click', () => void publishDraft(token.value));
  const linkButton = el('button', { type: 'button', id: 'make-link' }, 'Permalink');
  linkButton.addEventListener('click', () => void makeLink());

  $('play').replaceChildren(
    el('div', { class: 'toolbar play-bar' },
      el('label', { for: 'policy' }, 'Server bundle ', policySelect),
      el('label', { for: 'open-file' }, 'or a packed bundle file ', fileInput),
      reset, linkButton,
      el('span', { class: 'publish' }, el('label', { for: 'token' }, 'Token ', token), publish)),
    el('div', { id: 'link-out', class: 'link-out', 'aria-live': 'polite' }),
    el('div', { id: 'publish-out', 'aria-live': 'polite' }),
    el('div', { class: 'play-grid' },
      el('nav', { class: 'files', 'aria-label': 'Files' }, el('h2', {}, 'Files'), el('ul', { id: 'file-list' })),
      el('section', { class: 'edit', 'aria-labelledby': 'file-h' },
        el('h2', { id: 'file-h' }, 'File'),
        el('div', { class: 'editor' },
          el('pre', { class: 'hl', id: 'hl', 'aria-hidden': 'true' }),
          el('textarea', { id: 'code', spellcheck: 'false', wrap: 'off', 'aria-labelledby': 'file-h', 'aria-describedby': 'diagnostics' })),
        el('div', { id: 'diagnostics', class: 'diagnostics', 'aria-live': 'polite' })),
      el('section', { class: 'side' },
        el('section', { id: 'tests', 'aria-live': 'polite' }),
        el('section', { id: 'diff' }),
        el('section', { id: 'impact', 'aria-labelledby': 'impact-h' },
          el('h2', { id: 'impact-h' }, 'Impact over a population'),
          el('p', { class: 'muted' }, 'A JSON Lines file of inputs (one household per line, as eligo population writes), decided in this browser by the base and by the draft. The file never leaves the browser.'),
          el('div', { class: 'try-bar' },
            el('label', { for: 'population-file' }, 'Population ', el('input', { type: 'file', id: 'population-file', accept: '.jsonl,.ndjson,.txt,application/x-ndjson' })),
            el('button', { type: 'button', id: 'impact-run' }, 'Run impact')),
          el('progress', { id: 'impact-progress', max: '1', value: '0', hidden: '' }),
          el('div', { id: 'impact-out', 'aria-live': 'polite' })),
        el('section', { id: 'try' },
          el('h2', {}, 'Try an input'),
          el('div', { class: 'try-bar' },
            el('label', { for: 'try-entry' }, 'Entry ', el('select', { id: 'try-entry' })),
            el('label', { for: 'try-as-of' }, 'as_of ', el('input', { id: 'try-as-of', value: AS_OF_DEFAULT }))),
          el('label', { for: 'try-input', class: 'block' }, 'Input (JSON)'),
          el('textarea', { id: 'try-input', rows: '8', spellcheck: 'false' }),
          el('div', { id: 'try-out' })))),
  );
  $('impact-run').addEventListener('click', () => runImpact());
  const code = $('code') as HTMLTextAreaElement;
  let timer: number | undefined;
  code.addEventListener('input', () => {
    S.files[S.selected] = code.value;
    paint();
    window.clearTimeout(timer);
    timer = window.setTimeout(recompute, 150);
  });
  code.addEventListener('scroll', () => {
    $('hl').scrollTop = code.scrollTop;
    $('hl').scrollLeft = code.scrollLeft;
  });
  const entrySelect = $('try-entry') as HTMLSelectElement;
  entrySelect.addEventListener('change', () => {
    ($('try-input') as HTMLTextAreaElement).value = SAMPLES[entrySelect.value]?.[0] ?? '{}';
    tryInput();
  });
  $('try-input').addEventListener('input', tryInput);
  $('try-as-of').addEventListener('input', tryInput);
}

// ---- bundles -------------------------------------------------------------------

async function openServerBundle(name: string): Promise<void> {
  const policy = S.current.policies.find((p) => p.name === name) ?? S.current.policies[0];
  S.policyName = policy.name;
  await openPacked(await (await fetch(policy.url)).text());
}

async function openFile(file: File | undefined): Promise<void> {
  if (!file) return;
  try {
    await openPacked(await file.text());
  } catch (error) {
    $('diagnostics').replaceChildren(el('p', { class: 'error', role: 'alert' }, `${file.name}: ${(error as Error).message}`));
  }
}

/** Test cases of a bundle, read from its YAML with numbers kept exact. */
function testCases(files: Files): Case[] {
  const cases: Case[] = [];
  for (const [path, text] of Object.entries(files).sort()) {
    if (!/^tests\/.*\.ya?ml$/.test(path)) continue;
    const doc = parseDocument(text, { keepSourceTokens: true });
    visit(doc, {
      Scalar(_key, node) {
        if (typeof node.value === 'number' && !Number.isSafeInteger(node.value)) {
          const source = (node.srcToken as { source?: string } | undefined)?.source;
          if (source && /^-?\d+(\.\d+)?$/.test(source)) node.value = new S.mod.Decimal(source) as unknown as number;
        }
      },
    });
    void isScalar;
    const data = doc.toJS() as { entry?: string; as_of?: string; cases?: Obj[] } | null;
    for (const c of data?.cases ?? []) {
      cases.push({
        kind: 'test',
        name: `${path}: ${String(c.name)}`,
        entry: String(c.entry ?? data?.entry ?? 'household'),
        as_of: String(c.as_of ?? data?.as_of ?? AS_OF_DEFAULT),
        mode: c.mode === 'partial' ? 'partial' : 'strict',
        lang: typeof c.lang === 'string' ? c.lang : undefined,
        input: c.input ?? {},
      });
    }
  }
  return cases;
}

function population(engine: Eligo.Engine): Case[] {
  const cases: Case[] = [];
  for (const entry of engine.entries()) {
    (SAMPLES[entry.name] ?? []).forEach((text, i) => {
      const input = S.mod.parse(text) as Obj;
      cases.push({ kind: 'sample', name: `${entry.name} ${String(input.id ?? i + 1)}`, entry: entry.name, as_of: AS_OF_DEFAULT, mode: 'partial', input });
    });
    for (const input of generate(S.mod, entry, AS_OF_DEFAULT, entry.name === 'household' ? GENERATED : 30)) {
      cases.push({ kind: 'sample', name: `${entry.name} ${String(input.id)}`, entry: entry.name, as_of: AS_OF_DEFAULT, mode: 'partial', input });
    }
  }
  return cases;
}

function run(engine: Eligo.Engine, c: Case): Outcome {
  try {
    return { envelope: engine.decide({ entry: c.entry, input: c.input as Obj, as_of: c.as_of, mode: c.mode, lang: c.lang ?? S.lang }) };
  } catch (error) {
    if (error instanceof S.mod.EligoError) return { error };
    throw error;
  }
}

/** The decision as the engine's diff and impact functions take it. */
function decision(outcome: Outcome): Eligo.Envelope | Eligo.EligoError {
  return 'envelope' in outcome ? outcome.envelope : outcome.error;
}

async function openPacked(text: string, changes?: Record<string, string | null>): Promise<void> {
  const packed = S.mod.parse(text) as unknown as Eligo.PackedBundle;
  S.baseEngine?.free();
  S.baseEngine = S.mod.Engine.load(text, { artifact: S.current.artifact });
  S.base = packed;
  S.baseText = text;
  S.files = { ...packed.files };
  for (const [path, content] of Object.entries(changes ?? {})) {
    if (content === null) delete S.files[path];
    else S.files[path] = content;
  }
  S.baseCost = costOf(S.baseEngine.test());
  S.cases = [...testCases(packed.files), ...population(S.baseEngine)];
  S.baseOutcomes = S.cases.map((c) => run(S.baseEngine, c));
  const entrySelect = $('try-entry') as HTMLSelectElement;
  entrySelect.replaceChildren(...S.baseEngine.entries().map((e) => el('option', { value: e.name, selected: e.name === 'household' }, e.name)));
  const tryInputBox = $('try-input') as HTMLTextAreaElement;
  if (!tryInputBox.value) tryInputBox.value = SAMPLES[entrySelect.value]?.[0] ?? '{}';
  showFiles();
  const firstParam = Object.keys(S.files).find((f) => f.startsWith('params/relief')) ?? Object.keys(S.files)[0];
  selectFile(S.selected && S.selected in S.files ? S.selected : firstParam);
  recompute();
}

function changedFiles(): Record<string, string | null> {
  const changes: Record<string, string | null> = {};
  for (const [path, text] of Object.entries(S.files)) if (S.base.files[path] !== text) changes[path] = text;
  for (const path of Object.keys(S.base.files)) if (!(path in S.files)) changes[path] = null;
  return changes;
}

function showFiles(): void {
  const changed = changedFiles();
  const errorsByFile = new Map<string, number>();
  for (const d of S.report?.diagnostics ?? []) errorsByFile.set(d.file, (errorsByFile.get(d.file) ?? 0) + 1);
  $('file-list').replaceChildren(
    ...Object.keys(S.files).sort().map((path) => {
      const button = el('button', { type: 'button', class: 'file', 'data-file': path, 'aria-current': path === S.selected ? 'true' : undefined },
        path, path in changed ? el('span', { class: 'changed', title: 'changed' }, ' ●') : undefined,
        errorsByFile.has(path) ? el('span', { class: 'file-errors' }, ` ${errorsByFile.get(path)}`) : undefined);
      button.addEventListener('click', () => selectFile(path));
      return el('li', {}, button);
    }),
  );
}

function selectFile(path: string): void {
  S.selected = path;
  $('file-h').textContent = path;
  const code = $('code') as HTMLTextAreaElement;
  code.value = S.files[path] ?? '';
  paint();
  showFiles();
}

// ---- diagnostics ---------------------------------------------------------------

function offsetOf(lines: string[], line: number, column: number): number {
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
  return offset + Math.max(0, column - 1);
}

/** Draws the selected file with its diagnostics' spans underlined. */
function paint(): void {
  const text = S.files[S.selected] ?? '';
  const lines = text.split('\n');
  const spans: { from: number; to: number; severity: string; message: string }[] = [];
  for (const d of S.report?.diagnostics ?? []) {
    if (d.file !== S.selected || d.line === 0) continue;
    const from = offsetOf(lines, d.line, d.column || 1);
    let to = d.end_line ? offsetOf(lines, d.end_line, d.end_column || 1) : offsetOf(lines, d.line, (lines[d.line - 1]?.length ?? 0) + 1);
    if (to <= from) to = Math.min(text.length, from + 1);
    spans.push({ from, to, severity: d.severity, message: d.message });
  }
  spans.sort((a, b) => a.from - b.from);
  const pre = $('hl');
  const parts: (Node | string)[] = [];
  let at = 0;
  for (const span of spans) {
    if (span.from < at) continue;
    parts.push(text.slice(at, span.from));
    parts.push(el('mark', { class: `d-${span.severity}`, title: span.message }, text.slice(span.from, span.to) || ' '));
    at = span.to;
  }
  parts.push(text.slice(at), '\n');
  pre.replaceChildren(...parts);
}

function showDiagnostics(): void {
  const report = S.report;
  const box = $('diagnostics');
  if (!report) return;
  if (report.diagnostics.length === 0) {
    box.replaceChildren(el('p', { class: 'ok', id: 'check-ok' }, `✓ The bundle checks: ${report.bundle?.name} ${report.bundle?.version} ${report.bundle?.hash.slice(0, 19)}…`));
    return;
  }
  const list = el('ul', { class: 'diag-list' });
  for (const d of report.diagnostics) {
    const item = el('button', { type: 'button', class: `diag d-${d.severity}` },
      `${d.file}${d.line ? `:${d.line}:${d.column}` : ''} ${d.severity} [${d.code}]: ${d.message}`, d.help ? el('span', { class: 'help' }, ` — ${d.help}`) : undefined);
    item.addEventListener('click', () => {
      selectFile(d.file);
      const code = $('code') as HTMLTextAreaElement;
      const lines = code.value.split('\n');
      code.focus();
      if (d.line) code.setSelectionRange(offsetOf(lines, d.line, d.column || 1), d.end_line ? offsetOf(lines, d.end_line, d.end_column || 1) : offsetOf(lines, d.line, 1));
    });
    list.append(el('li', {}, item));
  }
  box.replaceChildren(el('p', { class: report.ok ? 'ok' : 'error', role: report.ok ? undefined : 'alert' }, `${report.errors} error(s), ${report.warnings} warning(s)`), list);
}

// ---- tests and the behavioural diff ------------------------------------------------

/** What the test cases' decisions cost, in the operations `max_operations` limits. */
interface Cost {
  median: number;
  most: number;
  mostCase: string;
  limit: number;
}

function costOf(report: Eligo.TestReport): Cost | undefined {
  const ran = report.cases.filter((c) => c.operations > 0).sort((a, b) => a.operations - b.operations);
  const most = ran[ran.length - 1];
  if (!most) return undefined;
  return { median: ran[ran.length >> 1].operations, most: most.operations, mostCase: `${most.file}:${most.line} ${most.name}`, limit: report.max_operations };
}

/**
 * The draft's cost beside the base's: counted, not timed, so the same in
 * every runtime, and a rule change's cost shows as it is typed.
 */
function costLine(report: Eligo.TestReport): HTMLElement | string {
  const cost = costOf(report);
  if (!cost) return '';
  const base = S.baseCost;
  const was = (now: number, before: number | undefined) => (before === undefined || before === now ? `${now}` : `${now} (base ${before})`);
  const share = ((100 * cost.most) / cost.limit).toFixed(1);
  return el(
    'p',
    { id: 'test-cost', class: 'muted', 'data-median': String(cost.median), 'data-most': String(cost.most), 'data-base-median': String(base?.median ?? '') },
    `Operations per decision: median ${was(cost.median, base?.median)}, most ${was(cost.most, base?.most)} (${cost.mostCase}), ${share}% of max_operations = ${cost.limit}`,
  );
}

function showTests(report: Eligo.TestReport | undefined): void {
  const box = $('tests');
  if (!report) {
    box.replaceChildren(el('h2', {}, 'Tests'), el('p', { class: 'muted' }, 'The draft does not load; fix the errors to run the tests.'));
    return;
  }
  const failed = report.cases.filter((c) => !c.passed);
  const list = el('ul', { class: 'failures' });
  for (const c of failed) {
    const table = el('table', { class: 'mismatch' }, el('thead', {}, el('tr', {}, el('th', {}, 'path'), el('th', {}, 'expected'), el('th', {}, 'actual'))));
    const body = el('tbody');
    for (const m of c.mismatches) body.append(el('tr', {}, el('td', {}, m.path), el('td', { class: 'before' }, m.expected), el('td', { class: 'after' }, m.actual)));
    table.append(body);
    list.append(el('li', { class: 'failure', 'data-case': c.name }, el('strong', {}, `✗ ${c.file}:${c.line} ${c.name}`), table));
  }
  box.replaceChildren(
    el('h2', {}, 'Tests'),
    el('p', { class: report.failed ? 'error' : 'ok', id: 'test-summary', 'data-failed': String(report.failed) }, `${report.passed} passed, ${report.failed} failed`),
    costLine(report),
    list,
  );
}

/** What a reader compares: the result's leaves, the status or the error, not the rule lists. */
function decisive(change: Eligo.Change): boolean {
  const { path } = change;
  return (path === 'status' || path.startsWith('result.') || path.startsWith('error.')) && !/\.rules(\[|$)/.test(path);
}

/** Exact text of a changed value (money keeps its decimals). */
function shown(value: Json | undefined): string {
  return value === undefined ? '—' : typeof value === 'string' ? value : S.mod.stringify(value);
}

/**
 * The behavioural diff: every case decided by the base and by the draft,
 * compared by the engine itself (`diff` per case, `Impact` over all of
 * them, the same code as `eligo impact`), with no server round trip.
 */
function showDiff(after: Outcome[] | undefined): void {
  const box = $('diff');
  if (!after) {
    box.replaceChildren(el('h2', {}, 'Behavioural diff'), el('p', { class: 'muted' }, 'No draft to compare.'));
    return;
  }
  const changed: HTMLElement[] = [];
  let tests = 0;
  let samples = 0;
  const impact = new S.mod.Impact();
  S.cases.forEach((c, i) => {
    const [before, now] = [decision(S.baseOutcomes[i]), decision(after[i])];
    if (c.kind === 'sample') impact.add(c.name, before, now);
    const changes = S.mod.diff(before, now).filter(decisive);
    if (changes.length === 0) return;
    if (c.kind === 'test') tests++;
    else samples++;
    const rows = el('tbody');
    for (const change of changes) {
      rows.append(el('tr', {}, el('td', {}, change.path.replace(/^result\./, '')), el('td', { class: 'before' }, shown(change.before)), el('td', { class: 'after' }, shown(change.after))));
    }
    const reasons = (o: Outcome) => ('envelope' in o ? o.envelope.reasons.map((r) => `${r.rule}: ${r.text}`) : [o.error.message]);
    const rb = reasons(S.baseOutcomes[i]);
    const ra = reasons(after[i]);
    const gone = rb.filter((r) => !ra.includes(r));
    const came = ra.filter((r) => !rb.includes(r));
    const first = changes[0];
    const headline = `${first.path.replace(/^result\./, '')}: ${shown(first.before)} → ${shown(first.after)}${changes.length > 1 ? ` (+${changes.length - 1} more)` : ''}`;
    changed.push(
      el('li', { class: `changed-case kind-${c.kind}`, 'data-case': c.name },
        el('details', {},
          el('summary', {}, el('strong', {}, `${c.kind === 'test' ? 'test' : 'sample'} · ${c.name}`), el('br'), el('span', { class: 'headline' }, headline)),
          el('table', { class: 'mismatch' }, el('thead', {}, el('tr', {}, el('th', {}, 'result'), el('th', {}, 'before'), el('th', {}, 'after'))), rows),
          gone.length || came.length
            ? el('ul', { class: 'reason-diff' }, ...gone.map((r) => el('li', { class: 'before' }, `− ${r}`)), ...came.map((r) => el('li', { class: 'after' }, `+ ${r}`)))
            : undefined)),
    );
  });
  const report = impact.report();
  impact.free();
  const nTests = S.cases.filter((c) => c.kind === 'test').length;
  const nSamples = S.cases.length - nTests;
  box.replaceChildren(
    el('h2', {}, 'Behavioural diff'),
    el('p', { id: 'diff-summary', 'data-tests': String(tests), 'data-samples': String(samples) },
      `${tests} of ${nTests} test cases and ${samples} of ${nSamples} sample inputs change decision.`),
    impactSummary(report),
    el('ul', { class: 'changes' }, ...changed.slice(0, 40)),
    changed.length > 40 ? el('p', { class: 'muted' }, `… and ${changed.length - 40} more`) : '',
  );
}

/** The sample population's impact: eligibility gained and lost, and money before and after. */
function impactSummary(report: Eligo.ImpactReport, id = 'impact-summary'): HTMLElement {
  const rows = el('tbody');
  for (const [path, t] of Object.entries(report.transitions)) {
    if (!path.endsWith('.eligible') && path !== 'class' && !path.endsWith('.level')) continue;
    const count = (from: string, to: string) => t.changed.filter((c) => c.from === from && c.to === to).reduce((n, c) => n + c.count, 0);
    const moved = t.changed.reduce((n, c) => n + c.count, 0);
    const detail = path.endsWith('.eligible') ? `+${count('false', 'true')} / −${count('true', 'false')}` : `${moved} changed`;
    rows.append(el('tr', { 'data-path': path }, el('td', {}, path), el('td', {}, detail), el('td', {}, String(t.unchanged))));
  }
  for (const [path, totals] of Object.entries(report.totals)) {
    if (!totals.changed) continue;
    rows.append(el('tr', { 'data-path': path }, el('td', {}, path), el('td', {}, `${shown(totals.before)} → ${shown(totals.after)} (${shown(totals.delta)})`), el('td', {}, String(report.households - totals.changed))));
  }
  return el('table', { id, class: 'mismatch', 'data-changed': String(report.changed), 'data-households': String(report.households) },
    el('caption', {}, `Impact over ${report.households} inputs (the engine's Impact): eligibility gained / lost, totals before → after`),
    el('thead', {}, el('tr', {}, el('th', {}, 'leaf'), el('th', {}, 'change'), el('th', {}, 'unchanged'))),
    rows);
}

function recompute(): void {
  const files = { ...S.files };
  S.report = S.mod.check({ files });
  paint();
  showFiles();
  showDiagnostics();
  S.draft?.free();
  S.draft = undefined;
  if (S.report.ok) {
    try {
      S.draft = S.mod.Engine.load({ files }, { artifact: S.current.artifact });
    } catch (error) {
      $('diagnostics').append(el('p', { class: 'error' }, (error as Error).message));
    }
  }
  showTests(S.draft?.test());
  showDiff(S.draft ? S.cases.map((c) => run(S.draft!, c)) : undefined);
  tryInput();
  document.body.dataset.computed = String(Number(document.body.dataset.computed ?? 0) + 1);
}

// ---- impact over an uploaded population, in a worker --------------------------------

let impactWorker: Worker | undefined;

function runImpact(): void {
  const out = $('impact-out');
  const file = ($('population-file') as HTMLInputElement).files?.[0];
  if (!file) {
    out.replaceChildren(el('p', { class: 'error', role: 'alert' }, 'Choose a population file first.'));
    return;
  }
  if (!S.draft) {
    out.replaceChildren(el('p', { class: 'error', role: 'alert' }, 'The draft does not load; fix its errors first.'));
    return;
  }
  impactWorker?.terminate();
  const worker = new Worker(new URL('./impact-worker.ts', import.meta.url), { type: 'module' });
  impactWorker = worker;
  const progress = $('impact-progress') as HTMLProgressElement;
  progress.hidden = false;
  progress.value = 0;
  const entry = ($('try-entry') as HTMLSelectElement).value || 'household';
  const asOf = ($('try-as-of') as HTMLInputElement).value || AS_OF_DEFAULT;
  out.replaceChildren(el('p', { id: 'impact-status' }, `Deciding ${file.name} with the base and the draft…`));
  worker.onmessage = (event: MessageEvent<ImpactMessage>) => {
    const message = event.data;
    if (message.kind === 'progress') {
      progress.value = message.total ? message.bytes / message.total : 0;
      $('impact-status').textContent = `${message.households} households decided…`;
      return;
    }
    worker.terminate();
    impactWorker = undefined;
    progress.hidden = true;
    if (message.kind === 'failed') {
      out.replaceChildren(el('p', { class: 'error', role: 'alert' }, `The impact run failed: ${message.message}`));
      return;
    }
    const { report } = message;
    out.replaceChildren(
      el('p', { id: 'impact-result', 'data-households': String(report.households), 'data-changed': String(report.changed), 'data-bad': String(message.badCount) },
        `${report.households} households in ${message.seconds.toFixed(1)} s: ${report.changed} change decision; ${message.badCount} bad line(s).`),
      ...message.bad.map((b) => el('p', { class: 'error' }, `line ${b.line}: ${b.message}`)),
      impactSummary(report, 'population-impact'),
      impactExamples(report),
    );
  };
  const job: ImpactJob = {
    module: new URL(S.current.module, location.href).href,
    wasm: new URL(S.current.wasm, location.href).href,
    artifact: S.current.artifact,
    base: S.baseText,
    draft: { ...S.files },
    file,
    entry,
    as_of: asOf,
    lang: S.lang,
  };
  worker.postMessage(job);
}

/** The first changed households: what changed, and the reasons before and after. */
function impactExamples(report: Eligo.ImpactReport): HTMLElement {
  const explain = (side: Eligo.ImpactExplanation) =>
    'error' in side
      ? el('p', { class: 'error' }, `error: ${side.error}`)
      : el('ul', {}, ...side.reasons.map((r) => el('li', {}, `${r.rule}: ${r.text}`)));
  const list = el('ul', { class: 'changes', id: 'impact-examples' });
  for (const example of report.examples ?? []) {
    const rows = el('tbody');
    for (const c of example.changes) rows.append(el('tr', {}, el('td', {}, c.path), el('td', { class: 'before' }, c.before), el('td', { class: 'after' }, c.after)));
    list.append(
      el('li', { class: 'changed-case', 'data-case': example.id },
        el('details', {},
          el('summary', {}, el('strong', {}, example.id)),
          el('table', { class: 'mismatch' }, el('thead', {}, el('tr', {}, el('th', {}, 'result'), el('th', {}, 'before'), el('th', {}, 'after'))), rows),
          el('div', { class: 'pair' }, el('div', {}, el('h4', {}, 'before'), explain(example.before)), el('div', {}, el('h4', {}, 'after'), explain(example.after))))),
    );
  }
  return list;
}

// ---- an input, decided by the draft ----------------------------------------------

let lastTry: { envelope: Eligo.Envelope; input: string; entry: string; as_of: string } | undefined;

function tryInput(): void {
  const out = $('try-out');
  const engine = S.draft ?? S.baseEngine;
  const entry = ($('try-entry') as HTMLSelectElement).value;
  const asOf = ($('try-as-of') as HTMLInputElement).value;
  const text = ($('try-input') as HTMLTextAreaElement).value;
  lastTry = undefined;
  try {
    const input = S.mod.parse(text) as Obj;
    const envelope = engine.decide({ entry, input, as_of: asOf, mode: 'partial', lang: S.lang });
    lastTry = { envelope, input: S.mod.stringify(input), entry, as_of: asOf };
    out.replaceChildren(
      el('p', { class: 'muted' }, S.draft ? 'Decided by the draft' : 'Decided by the opened bundle (the draft has errors)'),
      renderEnvelope(envelope, { labels: labelsFor({ ...S.base, files: S.files }, S.lang), words: words(S.lang), entry, mod: S.mod }),
    );
  } catch (error) {
    const e = error as Eligo.EligoError;
    out.replaceChildren(el('p', { class: 'error' }, e.message), ...(e.problems ?? []).map((p) => el('p', { class: 'error' }, `${p.path}: ${p.message}`)));
  }
}

// ---- permalinks ---------------------------------------------------------------

async function deflate(text: string): Promise<string> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function inflate(text: string): Promise<string> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Response(stream).text();
}

async function makeLink(): Promise<void> {
  const out = $('link-out');
  if (!S.draft || !lastTry) {
    out.replaceChildren(el('p', { class: 'error' }, 'A permalink needs a draft that loads and an input that decides.'));
    return;
  }
  const link: Link = {
    v: 1,
    engine: S.current.artifact,
    policy: S.policyName,
    base: S.base.hash,
    draft: S.draft.info.hash,
    changes: changedFiles(),
    entry: lastTry.entry,
    as_of: lastTry.as_of,
    lang: S.lang,
    input: lastTry.input,
    decision: await sha256(S.mod.stringify(lastTry.envelope)),
  };
  const url = `${location.origin}/playground.html#link=${await deflate(JSON.stringify(link))}`;
  out.replaceChildren(el('p', {}, 'Permalink (engine, bundle and changes, input): ', el('a', { href: url, id: 'permalink' }, `${url.slice(0, 80)}…`), ` (${url.length} characters)`));
}

async function openLink(encoded: string): Promise<void> {
  const link = JSON.parse(await inflate(encoded)) as Link;
  const notes: HTMLElement[] = [];
  let mod = S.mod;
  if (link.engine !== S.current.artifact) {
    const sha = link.engine.replace('sha256:', '');
    try {
      mod = await loadModule({ ...S.current, artifact: link.engine, module: `/engine/${sha}/index.js`, wasm: `/engine/${sha}/eligo_bg.wasm` });
      notes.push(el('p', { class: 'ok' }, `The link's engine ${link.engine.slice(0, 19)}… is still served; it decides below.`));
    } catch {
      notes.push(el('p', { class: 'bad', id: 'engine-differs' }, `The engine differs: the link was made with ${link.engine}, this server serves ${S.current.artifact}, and the link's engine is no longer available. The decision below is this engine's.`));
    }
  }
  const response = await fetch(`/engine/bundles/${link.base}.json`);
  if (!response.ok) {
    $('link-out').replaceChildren(el('p', { class: 'error', role: 'alert' }, `The link's bundle ${link.base} is not on this server (HTTP ${response.status}).`));
    return;
  }
  S.policyName = link.policy;
  await openPacked(await response.text(), link.changes);
  ($('try-entry') as HTMLSelectElement).value = link.entry;
  ($('try-as-of') as HTMLInputElement).value = link.as_of;
  ($('try-input') as HTMLTextAreaElement).value = link.input;
  if (S.draft && S.draft.info.hash !== link.draft) notes.push(el('p', { class: 'bad' }, `The rebuilt bundle's hash ${S.draft.info.hash} is not the link's ${link.draft}.`));
  let envelope: Eligo.Envelope | undefined;
  try {
    const engine = mod === S.mod ? S.draft : mod.Engine.load({ files: S.files }, { artifact: link.engine });
    envelope = engine?.decide({ entry: link.entry, input: mod.parse(link.input) as Obj, as_of: link.as_of, mode: 'partial', lang: link.lang });
  } catch (error) {
    notes.push(el('p', { class: 'error' }, (error as Error).message));
  }
  tryInput();
  if (envelope) {
    const same = (await sha256(mod.stringify(envelope))) === link.decision;
    notes.unshift(
      el('p', { id: 'link-verdict', class: same ? 'ok' : 'bad', 'data-same': String(same) },
        same ? `✓ Reproduced: the same decision, byte for byte (bundle ${link.draft.slice(0, 19)}…, engine ${link.engine.slice(0, 19)}…).` : '✗ The decision differs from the one the link was made with.'),
    );
  }
  $('link-out').replaceChildren(...notes);
}

// ---- publishing ---------------------------------------------------------------

async function publishDraft(token: string): Promise<void> {
  const out = $('publish-out');
  if (!S.draft) {
    out.replaceChildren(el('p', { class: 'error', role: 'alert' }, 'The draft has errors; fix them before publishing.'));
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  out.replaceChildren(el('p', {}, 'Publishing…'));
  try {
    const response = await fetch(`/v1/policies/${encodeURIComponent(S.policyName)}`, { method: 'PUT', headers, body: S.draft.pack() });
    const text = await response.text();
    let body: { error?: Eligo.ErrorBody; [k: string]: unknown } = {};
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    if (response.ok) {
      out.replaceChildren(el('p', { class: 'ok', id: 'published' }, `✓ Published ${S.policyName}: ${JSON.stringify(body.bundle ?? body)}`));
      return;
    }
    const problems = body.error?.diagnostics?.map((d) => `${d.file}:${d.line}:${d.column} ${d.message}`) ?? [];
    const failures = (body.error as { tests?: Eligo.TestReport } | undefined)?.tests?.cases?.filter((c) => !c.passed).map((c) => `✗ ${c.name}`) ?? [];
    out.replaceChildren(
      el('p', { class: 'error', role: 'alert', id: 'publish-error' }, `Not published (HTTP ${response.status}): ${body.error?.message ?? (text.slice(0, 200) || response.statusText)}`),
      ...[...problems, ...failures].map((t) => el('p', { class: 'error' }, t)),
    );
  } catch (error) {
    out.replaceChildren(el('p', { class: 'error', role: 'alert' }, `Not published: ${(error as Error).message}`));
  }
}

// ---- start ----------------------------------------------------------------------

async function start(): Promise<void> {
  S.current = await fetchJson<EngineCurrent>('/engine/current');
  S.mod = await loadModule(S.current);
  S.policyName = S.current.policies[0].name;
  S.lang = chosenLang(['zh-CN', 'en']);
  header('playground', ['zh-CN', 'en'], S.lang, (lang) => {
    S.lang = lang;
    S.baseOutcomes = S.cases.map((c) => run(S.baseEngine, c));
    recompute();
  });
  layout();
  const hash = location.hash;
  if (hash.startsWith('#link=')) await openLink(hash.slice('#link='.length));
  else await openServerBundle(new URLSearchParams(location.search).get('policy') ?? S.policyName);
  document.body.dataset.ready = 'true';
  void offlineReady();
}

start().catch((error) => {
  $('play').replaceChildren(el('p', { class: 'error', role: 'alert' }, `The playground could not start: ${(error as Error).message}`));
});
