// The decision, drawn from an envelope: each program with its status and
// amounts, the household's class, visits and escalation, each with the
// reasons (in the envelope's language) and the clauses they come from.
import type { Eligo, EligoModule } from './engine';
import type { LabelSet } from './labels';
import type { Words } from './i18n';
import { el } from './form';

type Json = Eligo.Json;
type Obj = { [key: string]: Json };

let DecimalClass: typeof Eligo.Decimal | undefined;

function isDecimal(value: Json | undefined): value is Eligo.Decimal {
  return DecimalClass !== undefined && value instanceof DecimalClass;
}

function isObj(value: Json | undefined): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !isDecimal(value);
}

export function show(value: Json | undefined, words: Words): string {
  if (value === undefined || value === null) return '—';
  if (value === true) return words.yes;
  if (value === false) return words.no;
  if (isDecimal(value)) return value.text;
  if (Array.isArray(value)) return value.map((v) => show(v, words)).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function reasonList(reasons: Eligo.Reason[], words: Words): HTMLElement {
  const list = el('ul', { class: 'reasons' });
  for (const r of reasons) {
    list.append(
      el('li', { 'data-rule': r.rule },
        el('span', { class: 'reason-text' }, r.text), ' ',
        el('span', { class: 'clause', title: `${words.clause} ${r.source}` }, `${r.rule} · ${r.source}`)),
    );
  }
  return list;
}

const MONEY_KEY = /amount|income|per_worker/;

export interface RenderOptions {
  labels: LabelSet;
  words: Words;
  entry: string;
  mod: EligoModule;
}

/** The decision panel for one envelope. */
export function renderEnvelope(envelope: Eligo.Envelope, opts: RenderOptions): HTMLElement {
  const { labels, words, entry } = opts;
  DecimalClass = opts.mod.Decimal;
  const result = envelope.result as Obj;
  const byRule = new Map(envelope.reasons.map((r) => [r.rule, r]));
  const used = new Set<string>();
  const reasonsFor = (rules: Json | undefined): Eligo.Reason[] => {
    if (!Array.isArray(rules)) return [];
    return rules.flatMap((id) => {
      const reason = byRule.get(String(id));
      if (!reason) return [];
      used.add(reason.rule);
      return [reason];
    });
  };
  const root = el('div', { class: 'decision-body' });
  const status = envelope.status === 'decided' ? words.decided : words.undetermined;
  root.append(el('p', { class: `status status-${envelope.status}`, 'data-status': envelope.status }, status));

  // A text the bundle names (a class, a level) in the chosen language.
  const shownValue = (value: Json, path: string): string =>
    (typeof value === 'string' ? labels.named(entry, path, value) : undefined) ?? show(value, words);
  const details = (obj: Obj, path: string, skip: string[]): HTMLElement => {
    const dl = el('dl', { class: 'kv' });
    for (const [key, value] of Object.entries(obj)) {
      if (skip.includes(key) || key === 'rules') continue;
      let shown = shownValue(value, `result.${path}.${key}`);
      if (isDecimal(value) && MONEY_KEY.test(key)) shown = `¥${shown}`;
      dl.append(el('div', { 'data-key': key }, el('dt', {}, labels.result(entry, `${path}.${key}`)), el('dd', {}, shown)));
    }
    return dl;
  };

  // Programs.
  if (isObj(result.programs)) {
    const section = el('section', { class: 'programs', 'aria-labelledby': 'programs-h' }, el('h3', { id: 'programs-h' }, words.programs));
    for (const [name, program] of Object.entries(result.programs)) {
      if (!isObj(program)) continue;
      const eligible = program.eligible;
      const [cls, text] = eligible === true ? ['yes', words.eligible] : eligible === false ? ['no', words.notEligible] : ['more', words.needMore];
      const card = el('article', { class: `card program program-${cls}`, 'data-program': name },
        el('h4', {}, labels.result(entry, `programs.${name}`), ' ', el('span', { class: `badge badge-${cls}` }, text)));
      if (eligible !== false) card.append(details(program, `programs.${name}`, ['eligible']));
      const reasons = reasonsFor(program.rules);
      if (reasons.length) card.append(reasonList(reasons, words));
      section.append(card);
    }
    root.append(section);
  }

  // The rest: scalars as a summary, objects as cards.
  const summary = el('dl', { class: 'kv summary' });
  const cards: HTMLElement[] = [];
  for (const [key, value] of Object.entries(result)) {
    if (key === 'programs') continue;
    if (isObj(value)) {
      const level = typeof value.level === 'string' ? value.level : undefined;
      const card = el('article', { class: `card obj obj-${key}`, 'data-key': key },
        el('h3', {}, labels.result(entry, key), level ? el('span', { class: `badge level level-${level}` }, labels.value(entry, `result.${key}.level`, level)) : undefined));
      card.append(details(value, key, level ? ['level'] : []));
      const reasons = reasonsFor(value.rules);
      if (reasons.length) card.append(reasonList(reasons, words));
      cards.push(card);
    } else {
      summary.append(el('div', { 'data-key': key }, el('dt', {}, labels.result(entry, key)), el('dd', {}, shownValue(value, `result.${key}`))));
    }
  }
  root.append(summary, ...cards);

  const rest = envelope.reasons.filter((r) => !used.has(r.rule));
  if (rest.length) root.append(el('section', { class: 'other-reasons' }, el('h3', {}, words.reasons), reasonList(rest, words)));
  if (envelope.reasons.length === 0) root.append(el('p', { class: 'muted' }, words.noReasons));

  const params = el('details', { class: 'params' }, el('summary', {}, `${words.parameters} (${envelope.parameters.length})`));
  const table = el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'value'), el('th', {}, 'from'), el('th', {}, words.clause))));
  const body = el('tbody');
  for (const p of envelope.parameters) body.append(el('tr', {}, el('td', {}, p.name), el('td', {}, show(p.value, words)), el('td', {}, p.from), el('td', {}, p.source)));
  table.append(body);
  params.append(table);
  root.append(params);
  return root;
}
