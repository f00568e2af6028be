// The caseworker's form: the input form generated from the bundle's schema,
// decided in this browser as the user types (partial mode), submitted to
// the server for the official, signed decision, and usable offline.
import householdSample from '../../examples/household.json?raw';
import communitySample from '../../examples/community.json?raw';
import { loadEngine, type Eligo, type Loaded } from './engine';
import { words, type Words } from './i18n';
import { labelsFor, type LabelSet } from './labels';
import { SchemaForm, el, type Obj } from './form';
import { renderEnvelope } from './results';
import { chosenLang, header, offlineReady, nowAt } from './common';
import { enqueue, flush, pending, type Queued } from './queue';
import { HttpError, newKey, submitDecision, verifyEnvelope, verifyReceipt, type Official, type Verification } from './submit';

const SAMPLES: Record<string, string> = { household: householdSample, community: communitySample };
const OFFSET = '+08:00';

const $ = (id: string) => document.getElementById(id)!;

interface State {
  loaded: Loaded;
  lang: string;
  words: Words;
  labels: LabelSet;
  entry: Eligo.EntryInfo;
  form: SchemaForm;
  asOf: string;
  last?: Eligo.Envelope;
  firstDecision: boolean;
}

let state: State;
let top: { update: (w: Words) => void };

function asOfInput(): HTMLInputElement {
  return $('as-of') as HTMLInputElement;
}

function setAsOf(value: string): void {
  state.asOf = value;
  asOfInput().value = value.slice(0, 16);
}

function decide(): void {
  const { loaded, form, entry, lang, words: w } = state;
  const panel = $('decision');
  const statusLine = $('decision-status');
  try {
    const envelope = loaded.engine.decide({ entry: entry.name, input: form.value, as_of: state.asOf, mode: 'partial', lang });
    state.last = envelope;
    const { unplaced } = form.annotate([], envelope.needs ?? []);
    panel.replaceChildren(renderEnvelope(envelope, { labels: state.labels, words: w, entry: entry.name, mod: loaded.mod }));
    panel.classList.remove('stale');
    const programs = (envelope.result as { programs?: Record<string, { eligible?: unknown }> }).programs ?? {};
    const eligible = Object.entries(programs).filter(([, p]) => p?.eligible === true).map(([name]) => state.labels.result(entry.name, `programs.${name}`));
    const level = (envelope.result as { escalation?: { level?: unknown } }).escalation?.level;
    statusLine.replaceChildren(
      envelope.status === 'decided' ? w.decided : `${w.undetermined}: ${(envelope.needs ?? []).map((n) => n.question).join(' ')}`,
      eligible.length ? ` · ${w.eligible}: ${eligible.join(', ')}` : '',
      typeof level === 'string' && level !== 'none' ? ` · ${w.escalation}: ${state.labels.value(entry.name, 'result.escalation.level', level)}` : '',
      ' ',
      el('a', { href: '#decision-h', class: 'to-decision' }, '↓'),
    );
    $('form-problems').replaceChildren(...unplaced.map((t) => el('p', { class: 'need' }, t)));
  } catch (error) {
    const e = error as Eligo.EligoError;
    if (e.name !== 'EligoError') throw error;
    const { unplaced } = form.annotate(e.problems, []);
    panel.classList.add('stale');
    const hard = e.problems.filter((p) => p.rule !== 'required');
    statusLine.textContent = hard.length ? `${w.invalid}: ${hard.length}` : w.pleaseFill;
    const extra = e.problems.length === 0 ? [e.message] : unplaced;
    $('form-problems').replaceChildren(...extra.map((t) => el('p', { class: 'error', role: 'alert' }, t)));
  }
  if (!state.firstDecision) {
    state.firstDecision = true;
    performance.mark('eligo:first-decision');
  }
}

let scheduled = false;
function changed(): void {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    decide();
  });
}

function sample(): Obj {
  const text = SAMPLES[state.entry.name];
  return text ? (state.loaded.mod.parse(text) as Obj) : {};
}

/** An empty form: one empty item in each required array. */
function empty(): Obj {
  const value: Obj = {};
  for (const [name, field] of Object.entries(state.entry.schema.root.fields)) {
    if (field.type === 'array' && field.required && field.items.type === 'object') value[name] = [{}];
  }
  return value;
}

function applyLang(lang: string): void {
  state.lang = lang;
  state.words = words(lang);
  state.labels = labelsFor(state.loaded.packed, lang);
  document.documentElement.lang = lang;
  document.title = state.words.title;
  const w = state.words;
  for (const node of document.querySelectorAll<HTMLElement>('[data-w]')) {
    node.textContent = w[node.dataset.w as keyof Words];
  }
  top.update(w);
  state.form.setOptions({ labels: state.labels, words: w, lang });
  state.form.render();
  decide();
  void showQueue();
}

// ---- submission -----------------------------------------------------------

function badge(v: Verification, w: Words): HTMLElement {
  const items = el('ul', { class: 'checks' });
  items.append(
    el('li', { class: v.same_policy ? 'ok' : 'bad' }, v.same_policy ? w.samePolicy : w.differentPolicy),
    el('li', { class: v.same_engine ? 'ok' : 'bad' }, v.same_engine ? w.sameEngine : w.differentEngine),
  );
  const results = v.differences.filter((d) => d.path !== 'engine' && d.path !== 'policy' && !d.path.startsWith('engine.') && !d.path.startsWith('policy.'));
  items.append(el('li', { class: results.length === 0 ? 'ok' : 'bad' }, results.length === 0 ? w.sameResult : `${w.differentResult}: ${results.map((d) => d.path).join(', ')}`));
  return el('div', { class: `verify ${v.agree ? 'agree' : 'differ'}`, 'data-agree': String(v.agree) },
    el('strong', { class: 'verdict' }, v.agree ? `✓ ${w.agree}` : `✗ ${w.disagree}`), items);
}

async function officialView(official: Official, inputText: string, envelopeText: string): Promise<HTMLElement> {
  const { mod } = state.loaded;
  const w = state.words;
  const box = el('div', { class: 'official', 'data-decision-id': official.decision_id });
  box.append(el('p', {}, `${w.decisionId}: `, el('code', { class: 'decision-id' }, official.decision_id)));
  try {
    box.append(badge(await verifyEnvelope(mod, inputText, envelopeText), w));
  } catch (error) {
    box.append(el('p', { class: 'error' }, String((error as Error).message)));
  }
  const receiptProblem = await verifyReceipt(mod, official, mod.parse(inputText)).catch((e: Error) => e.message);
  box.append(
    el('p', { class: receiptProblem ? 'bad receipt-check' : 'ok receipt-check', 'data-verified': String(!receiptProblem) },
      receiptProblem ? `✗ ${w.receiptNotVerified}: ${receiptProblem}` : `✓ ${w.receiptVerified}`),
  );
  const details = el('details', { class: 'receipt' }, el('summary', {}, w.receipt));
  details.append(el('pre', {}, JSON.stringify(official.receipt, null, 2)));
  box.append(details);
  return box;
}

interface Prepared {
  item: Queued;
}

function prepare(): Prepared | string {
  const { loaded, form, entry, lang } = state;
  const { mod } = loaded;
  let envelope: Eligo.Envelope;
  try {
    envelope = loaded.engine.decide({ entry: entry.name, input: form.value, as_of: state.asOf, mode: 'strict', lang });
  } catch (error) {
    const e = error as Eligo.EligoError;
    return e.kind === 'missing_needed' || e.kind === 'invalid_input' ? state.words.submitNeedsDecision : e.message;
  }
  const input = mod.stringify(form.value);
  const household = typeof form.value.id === 'string' ? form.value.id : undefined;
  return {
    item: {
      key: newKey(),
      entry: entry.name,
      body: `{"input":${input},"as_of":${JSON.stringify(state.asOf)},"lang":${JSON.stringify(lang)}}`,
      input,
      envelope: mod.stringify(envelope),
      household,
      queued_at: new Date().toISOString(),
    },
  };
}

const sentLog: { item: Queued; node: HTMLElement }[] = [];

async function send(item: Queued): Promise<'sent' | 'retry' | 'refused'> {
  const { mod } = state.loaded;
  try {
    const official = await submitDecision(mod, item.entry, item.body, item.key);
    const node = await officialView(official, item.input, item.envelope);
    sentLog.unshift({ item, node });
    return 'sent';
  } catch (error) {
    if (error instanceof HttpError && error.status < 500 && error.status !== 429) {
      sentLog.unshift({ item, node: el('p', { class: 'error' }, `${state.words.submitFailed}: ${error.message}`) });
      return 'refused';
    }
    return 'retry';
  }
}

async function submit(): Promise<void> {
  const w = state.words;
  const out = $('submit-result');
  const prepared = prepare();
  if (typeof prepared === 'string') {
    out.replaceChildren(el('p', { class: 'error', role: 'alert' }, prepared));
    return;
  }
  const { item } = prepared;
  const button = $('submit') as HTMLButtonElement;
  button.disabled = true;
  out.replaceChildren(el('p', {}, w.submitting));
  try {
    if (!navigator.onLine) throw new TypeError('offline');
    const official = await submitDecision(state.loaded.mod, item.entry, item.body, item.key);
    out.replaceChildren(await officialView(official, item.input, item.envelope));
  } catch (error) {
    if (error instanceof HttpError) {
      out.replaceChildren(el('p', { class: 'error', role: 'alert' }, `${w.submitFailed}: ${error.message}`));
    } else {
      await enqueue(item);
      out.replaceChildren(el('p', { class: 'queued', role: 'status' }, w.queued));
      await showQueue();
    }
  } finally {
    button.disabled = false;
  }
}

async function showQueue(): Promise<void> {
  const w = state.words;
  const waiting = await pending();
  const list = el('ul', { id: 'queue-list' });
  for (const item of waiting) {
    list.append(el('li', { class: 'queued-item', 'data-key': item.key }, `${item.household ?? item.entry} · ${new Date(item.queued_at).toLocaleString(state.lang)}`));
  }
  const sent = el('ul', { id: 'sent-list' });
  for (const { item, node } of sentLog) {
    sent.append(el('li', { class: 'sent-item', 'data-key': item.key }, el('p', {}, `${w.sent}: ${item.household ?? item.entry}`), node));
  }
  $('queue').replaceChildren(
    el('h2', {}, `${w.queue} (${waiting.length})`),
    waiting.length ? list : el('p', { class: 'muted' }, w.queueEmpty),
    ...(sentLog.length ? [el('h3', {}, w.history), sent] : []),
  );
}

let flushing: Promise<void> | undefined;
function sendQueued(): Promise<void> {
  if (!navigator.onLine) return Promise.resolve();
  flushing ??= flush(send).finally(() => {
    flushing = undefined;
    void showQueue();
  });
  return flushing;
}

// ---- start ----------------------------------------------------------------

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  let loaded: Loaded;
  try {
    loaded = await loadEngine(params.get('policy') ?? undefined);
  } catch (error) {
    $('decision').replaceChildren(el('p', { class: 'error', role: 'alert' }, `${words('en').engineFailed}: ${(error as Error).message}`));
    throw error;
  }
  const lang = chosenLang(loaded.engine.info.languages);
  const entryName = params.get('entry') ?? 'household';
  const entries = loaded.engine.entries();
  const entry = entries.find((e) => e.name === entryName) ?? entries[0];
  const w = words(lang);
  top = header('form', loaded.engine.info.languages, lang, (l) => applyLang(l));
  const form = new SchemaForm($('form'), {
    entry, labels: labelsFor(loaded.packed, lang), words: w, lang, mod: loaded.mod,
    offset: () => state.asOf.slice(-6), onChange: changed,
  });
  state = { loaded, lang, words: w, labels: labelsFor(loaded.packed, lang), entry, form, asOf: params.get('as_of') ?? nowAt(OFFSET), firstDecision: false };

  // Entry choice, when the bundle has several.
  const entrySelect = $('entry') as HTMLSelectElement;
  for (const e of entries) entrySelect.append(el('option', { value: e.name, selected: e.name === entry.name }, e.name));
  entrySelect.addEventListener('change', () => {
    state.entry = entries.find((e) => e.name === entrySelect.value)!;
    state.form.setOptions({ entry: state.entry });
    state.form.setValue(sample());
    decide();
  });

  setAsOf(state.asOf);
  asOfInput().addEventListener('input', () => {
    const v = asOfInput().value;
    if (v) {
      state.asOf = `${v.slice(0, 16)}:00${OFFSET}`;
      decide();
    }
  });
  $('new').addEventListener('click', () => {
    state.form.setValue(empty());
    $('submit-result').replaceChildren();
    decide();
    (state.form.root.querySelector('input, select') as HTMLElement | null)?.focus();
  });
  $('sample').addEventListener('click', () => {
    state.form.setValue(sample());
    $('submit-result').replaceChildren();
    decide();
  });
  $('submit').addEventListener('click', () => void submit());
  $('policy-line').textContent = `${loaded.engine.info.name} ${loaded.engine.info.version} · ${loaded.policy.hash.slice(0, 19)}… · engine ${loaded.current.artifact.slice(0, 19)}…`;

  form.setValue(sample(), false);
  applyLang(lang); // draws the form (once), decides (first decision), shows the queue
  window.addEventListener('online', () => void sendQueued());
  (window as unknown as { eligo: object }).eligo = { state: () => state, sendQueued, pending };
  document.body.dataset.ready = 'true';
  void sendQueued();
  void offlineReady();
}

void start();
