// A sample population for the behavioural diff: the repository's example
// inputs, and households (or communities) generated from the entry's input
// schema with a seeded generator, so every draft is compared on the same
// inputs and a new field needs no change here.
import type { Eligo, EligoModule } from './engine';

type Json = Eligo.Json;
type Obj = { [key: string]: Json };

/** Mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function dateOf(day: Date): string {
  return `${day.getUTCFullYear()}-${pad(day.getUTCMonth() + 1)}-${pad(day.getUTCDate())}`;
}

export function generate(mod: EligoModule, entry: Eligo.EntryInfo, asOf: string, count: number, seed = 1): Obj[] {
  const random = rng(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const base = new Date(`${asOf.slice(0, 10)}T00:00:00Z`);
  const offset = asOf.slice(-6);
  const daysBefore = (max: number) => new Date(base.getTime() - int(0, max) * 86_400_000);

  const holds = (condition: Eligo.Condition, object: Obj): boolean => {
    const value = object[condition.field];
    if (value === undefined || value === null) return false;
    const left = typeof value === 'number' ? value : Number(String(value));
    const right = Number(condition.literal);
    const cmp = Number.isNaN(left) || Number.isNaN(right) ? String(value).localeCompare(condition.literal) : left - right;
    switch (condition.op) {
      case '<': return cmp < 0;
      case '<=': return cmp <= 0;
      case '>': return cmp > 0;
      case '>=': return cmp >= 0;
      case '==': return cmp === 0;
      case '!=': return cmp !== 0;
    }
  };

  const value = (name: string, field: Eligo.Field | Eligo.Kind, depth: number, index: number): Json | undefined => {
    switch (field.type) {
      case 'string': return `${name.toUpperCase()}-${seed}-${depth}-${index}`.slice(0, field.max_len || 64);
      case 'integer': {
        const lo = field.min ?? 0;
        const hi = Math.min(field.max ?? 100, name.includes('age') ? 95 : lo + 200);
        return int(lo, Math.max(lo, hi));
      }
      case 'money': {
        const cents = random() < 0.25 ? 0 : int(0, 400_000);
        return new mod.Decimal(`${Math.floor(cents / 100)}.${pad(cents % 100)}`);
      }
      case 'decimal': {
        const lo = Number(field.min ?? '0');
        const hi = Number(field.max ?? '1');
        const places = Math.min(field.decimals ?? 2, 4);
        return new mod.Decimal((lo + random() * (hi - lo)).toFixed(places));
      }
      case 'bool': return random() < 0.2;
      case 'date': return dateOf(daysBefore(120));
      case 'month': {
        const d = daysBefore(365);
        return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
      }
      case 'timestamp': {
        const d = new Date(daysBefore(20).getTime() + int(8, 18) * 3_600_000);
        return `${dateOf(d)}T${pad(d.getUTCHours())}:${pad(int(0, 59))}:00${offset}`;
      }
      case 'enum': return pick(field.values);
      case 'array': {
        if (field.items.type !== 'object') return [];
        const n = int(field.min_items, Math.min(field.max_items, Math.max(field.min_items, 4)));
        const items: Obj[] = [];
        for (let i = 0; i < n; i++) items.push(object(field.items.object, depth + 1, i));
        if (field.ascending_by) {
          const key = field.ascending_by;
          items.sort((a, b) => String(a[key]).localeCompare(String(b[key])));
          return items.filter((item, i) => i === 0 || String(item[key]) !== String(items[i - 1][key]));
        }
        return items;
      }
      case 'object': return object(field.object, depth + 1, index);
    }
  };

  const object = (type: Eligo.ObjectType, depth: number, index: number): Obj => {
    const out: Obj = {};
    const fields = Object.entries(type.fields);
    for (const [name, field] of fields) {
      // Optional fields: present two times in three; nullable ones sometimes null.
      if (!field.required && random() < 0.33) continue;
      if (field.nullable && random() < 0.1) {
        out[name] = null;
        continue;
      }
      const v = value(name, field, depth, index);
      if (v !== undefined) out[name] = v;
    }
    for (const [name, field] of fields) {
      if (field.valid_when && out[name] !== undefined && !holds(field.valid_when, out)) delete out[name];
      const cap = field.at_most ? out[field.at_most] : undefined;
      const v = out[name];
      if (typeof cap === 'number' && typeof v === 'number' && v > cap) out[name] = int(0, cap);
    }
    return out;
  };

  const population: Obj[] = [];
  for (let i = 0; i < count; i++) {
    const item = object(entry.schema.root, 0, i);
    if ('id' in entry.schema.root.fields) item.id = `${entry.name.slice(0, 2).toUpperCase()}-GEN-${pad(i + 1, 3)}`;
    population.push(item);
  }
  return population;
}
