// Field labels, help texts and enum names from the bundle, per language.
//
// A bundle gives them in messages/<lang>.toml, beside its reasons and
// questions:
//
//   [labels.household]            # entry → schema path (no [i]) → label
//   id = "Household ID"
//   "members.age" = "Age"
//   "result.programs.temporary_relief" = "Temporary relief"   # result keys
//   [help.household]
//   "members.monthly_income" = "Yuan per month, at most 2 decimals"
//   [values.household.district]   # an enum's values → names
//   urban = "Urban"
//
// Whatever a bundle does not name falls back to the schema's description
// (help) and the field's own name made readable, so a new field needs no
// change to the page.
import { parse as parseToml } from 'smol-toml';
import type { PackedBundle } from '../../wasm/js/index.js';

type Table = Record<string, unknown>;

export interface LabelSet {
  label(entry: string, path: string): string;
  help(entry: string, path: string, description?: string): string | undefined;
  value(entry: string, path: string, value: string): string;
  /** The bundle's name for an enum value, if it gives one (a result's class). */
  named(entry: string, path: string, value: string): string | undefined;
  /** Labels of result keys (`programs.temporary_relief`); undefined when the bundle has none. */
  result(entry: string, path: string): string;
}

/** `members[3].age` → `members.age`. */
export function schemaPath(path: string): string {
  return path.replace(/\[\d+\]/g, '');
}

export function humanize(name: string): string {
  const text = name.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function table(value: unknown): Table {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Table) : {};
}

// Labels per bundle and language: the page asks again on every language
// switch and redraw, and parsing the messages file each time cost a few
// milliseconds of the first visit.
const made = new WeakMap<PackedBundle, Map<string, LabelSet>>();

export function labelsFor(packed: PackedBundle | undefined, lang: string): LabelSet {
  if (!packed) return makeLabels(undefined, lang);
  let byLang = made.get(packed);
  if (!byLang) made.set(packed, (byLang = new Map()));
  let labels = byLang.get(lang);
  if (!labels) byLang.set(lang, (labels = makeLabels(packed, lang)));
  return labels;
}

function makeLabels(packed: PackedBundle | undefined, lang: string): LabelSet {
  let messages: Table = {};
  const text = packed?.files[`messages/${lang}.toml`];
  if (text) {
    try {
      messages = parseToml(text) as Table;
    } catch {
      messages = {};
    }
  }
  const get = (section: string, entry: string, key: string): string | undefined => {
    const value = table(table(messages[section])[entry])[key];
    return typeof value === 'string' ? value : undefined;
  };
  const last = (path: string) => path.split('.').pop() ?? path;
  return {
    label: (entry, path) => get('labels', entry, schemaPath(path)) ?? humanize(last(schemaPath(path))),
    help: (entry, path, description) => get('help', entry, schemaPath(path)) ?? description,
    value: (entry, path, value) => {
      const names = table(table(table(messages.values)[entry])[schemaPath(path)]);
      const name = names[value];
      return typeof name === 'string' ? name : humanize(value);
    },
    named: (entry, path, value) => {
      const name = table(table(table(messages.values)[entry])[schemaPath(path)])[value];
      return typeof name === 'string' ? name : undefined;
    },
    result: (entry, path) => get('labels', entry, `result.${path}`) ?? humanize(last(path)),
  };
}
