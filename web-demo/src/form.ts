// The input form, generated from an entry's input schema (Engine.info):
// one control per field, by type; arrays of objects as repeatable groups.
// The form keeps the input as the JSON value the engine reads: an absent
// key is an unanswered field, money is an exact Decimal.
import type { Eligo, EligoModule } from './engine';
import type { LabelSet } from './labels';
import { problemText, type Words } from './i18n';

type Field = Eligo.Field;
type Kind = Eligo.Kind;
type Json = Eligo.Json;
export type Obj = { [key: string]: Json };

const DECIMAL = /^-?\d+(\.\d+)?$/;

export interface FormOptions {
  entry: Eligo.EntryInfo;
  labels: LabelSet;
  words: Words;
  lang: string;
  mod: EligoModule;
  /** The offset timestamps typed in get, e.g. `+08:00`. */
  offset: () => string;
  onChange: () => void;
}

/** `members[0].age` → a DOM id. */
export function pathId(path: string): string {
  return `f-${path.replace(/\[(\d+)\]/g, '-$1').replace(/\./g, '-')}`;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: (Node | string | undefined)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') node.className = String(value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) if (child !== undefined) node.append(child);
  return node;
}
export { el };

/** Money as typed → exactly two decimals, when it is a plain number with at most two. */
export function twoDecimals(text: string): string {
  const match = /^(-?\d+)(?:\.(\d{0,2}))?$/.exec(text.trim());
  if (!match) return text;
  const whole = match[1].replace(/^(-?)0+(?=\d)/, '$1');
  return `${whole}.${(match[2] ?? '').padEnd(2, '0')}`;
}

export class SchemaForm {
  readonly root: HTMLElement;
  value: Obj = {};
  private opts: FormOptions;
  private wrappers = new Map<string, HTMLElement>();

  constructor(root: HTMLElement, opts: FormOptions) {
    this.root = root;
    this.opts = opts;
  }

  setOptions(opts: Partial<FormOptions>): void {
    this.opts = { ...this.opts, ...opts };
  }

  /** Replaces the input; redraws unless the caller draws next anyway. */
  setValue(value: Obj, redraw = true): void {
    this.value = value;
    if (redraw) this.render();
  }

  /** Redraws every control from `value` (after a structural change or a language switch). */
  render(): void {
    const focusedId = document.activeElement instanceof HTMLElement ? document.activeElement.id : '';
    this.wrappers.clear();
    this.root.replaceChildren(this.renderObject(this.opts.entry.schema.root, this.value, ''));
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  private renderObject(type: Eligo.ObjectType, value: Obj, prefix: string): DocumentFragment {
    const fragment = document.createDocumentFragment();
    const fields = Object.entries(type.fields);
    // Required fields first, then other values, then yes/no questions, then groups.
    const rank = (f: Field) => (f.type === 'array' || f.type === 'object' ? (f.required ? 3 : 4) : f.required ? 0 : f.type === 'bool' ? 2 : 1);
    fields.sort(([, a], [, b]) => rank(a) - rank(b));
    for (const [name, field] of fields) {
      const path = prefix ? `${prefix}.${name}` : name;
      fragment.append(this.renderField(name, field, value, path));
    }
    return fragment;
  }

  private message(path: string): HTMLElement {
    return el('p', { class: 'msg', id: `${pathId(path)}-msg`, 'aria-live': 'polite' });
  }

  private renderField(name: string, field: Field, parent: Obj, path: string): HTMLElement {
    const { labels, entry } = this.opts;
    const id = pathId(path);
    const label = labels.label(entry.name, path);
    const help = labels.help(entry.name, path, field.description);
    const helpId = help ? `${id}-help` : undefined;
    const helpNode = help ? el('p', { class: 'help', id: helpId }, help) : undefined;
    const describedBy = [helpId, `${id}-msg`].filter(Boolean).join(' ');
    const current = parent[name];
    const set = (v: Json | undefined) => {
      if (v === undefined) delete parent[name];
      else parent[name] = v;
      this.opts.onChange();
    };

    if (field.type === 'array' && field.items.type === 'object') {
      return this.renderArray(name, field, field.items.object, parent, path, label, helpNode);
    }
    if (field.type === 'object') {
      const inner = (current && typeof current === 'object' && !Array.isArray(current) ? current : {}) as Obj;
      if (current === undefined) parent[name] = inner;
      const set = el('fieldset', { class: 'group', id, 'data-path': path }, el('legend', {}, label), helpNode);
      set.append(this.renderObject(field.object, inner, path), this.message(path));
      this.wrappers.set(path, set);
      return set;
    }

    const wrapper = el('div', { class: `field field-${field.type}`, 'data-path': path });
    this.wrappers.set(path, wrapper);
    const required = field.required ? el('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : undefined;
    const control = this.control(field, current, set, path, id, describedBy);
    if (control.checkbox) {
      wrapper.append(el('label', { class: 'check', for: id }, control.node, ' ', label, required));
    } else {
      wrapper.append(el('label', { for: id }, label, required), control.node);
    }
    if (helpNode) wrapper.append(helpNode);
    wrapper.append(this.message(path));
    return wrapper;
  }

  private control(
    field: Field,
    current: Json | undefined,
    set: (v: Json | undefined) => void,
    path: string,
    id: string,
    describedBy: string,
  ): { node: HTMLElement; checkbox?: boolean } {
    const { words, labels, entry, mod } = this.opts;
    const common = { id, name: path, 'aria-describedby': describedBy, required: field.required || undefined };
    const text = current === undefined || current === null ? '' : String(current);
    const kind: Kind = field;
    switch (kind.type) {
      case 'enum': {
        const select = el('select', common);
        const fallback = field.default !== undefined ? ` (${labels.value(entry.name, path, String(field.default))})` : '';
        select.append(el('option', { value: '' }, words.notAnswered + fallback));
        for (const v of kind.values) {
          select.append(el('option', { value: v, selected: v === current }, labels.value(entry.name, path, v)));
        }
        select.addEventListener('change', () => set(select.value === '' ? undefined : select.value));
        return { node: select };
      }
      case 'bool': {
        if (field.default !== undefined && !field.nullable) {
          const box = el('input', { ...common, type: 'checkbox', required: undefined });
          box.checked = current === undefined ? field.default === true : current === true;
          box.addEventListener('change', () => set(box.checked));
          return { node: box, checkbox: true };
        }
        const select = el('select', common);
        select.append(
          el('option', { value: '' }, words.notAnswered),
          el('option', { value: 'true', selected: current === true }, words.yes),
          el('option', { value: 'false', selected: current === false }, words.no),
        );
        if (field.nullable) select.append(el('option', { value: 'null', selected: current === null }, words.nullValue));
        select.addEventListener('change', () =>
          set(select.value === '' ? undefined : select.value === 'null' ? null : select.value === 'true'),
        );
        return { node: select };
      }
      case 'integer': {
        const input = el('input', { ...common, type: 'text', inputmode: 'numeric', value: text, autocomplete: 'off' });
        input.addEventListener('input', () => {
          const t = input.value.trim();
          set(t === '' ? undefined : /^-?\d+$/.test(t) && Number.isSafeInteger(Number(t)) ? Number(t) : t);
        });
        return { node: input };
      }
      case 'money':
      case 'decimal': {
        const input = el('input', { ...common, type: 'text', inputmode: 'decimal', value: kind.type === 'money' && text !== '' ? twoDecimals(text) : text, autocomplete: 'off' });
        const read = () => {
          const t = input.value.trim();
          set(t === '' ? undefined : DECIMAL.test(t) ? new mod.Decimal(t) : t);
        };
        input.addEventListener('input', read);
        if (kind.type === 'money') {
          input.addEventListener('blur', () => {
            const formatted = twoDecimals(input.value);
            if (formatted !== input.value) {
              input.value = formatted;
              read();
            }
          });
        }
        return { node: input, checkbox: false };
      }
      case 'date':
      case 'month': {
        const input = el('input', { ...common, type: kind.type, value: text });
        const box = field.nullable ? el('input', { type: 'checkbox', id: `${id}-null` }) : undefined;
        if (box) box.checked = current === null;
        input.disabled = current === null;
        input.addEventListener('input', () => set(input.value === '' ? undefined : input.value));
        if (!box) return { node: input };
        box.addEventListener('change', () => {
          input.disabled = box.checked;
          set(box.checked ? null : input.value === '' ? undefined : input.value);
        });
        return { node: el('span', { class: 'with-null' }, input, el('label', { class: 'check', for: `${id}-null` }, box, ' ', words.none)) };
      }
      case 'timestamp': {
        // datetime-local has no offset: keep the one the value had, or the page's.
        const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
        const offset = match?.[3] ?? this.opts.offset();
        const input = el('input', { ...common, type: 'datetime-local', value: match ? match[1] : '' });
        input.addEventListener('input', () =>
          set(input.value === '' ? undefined : `${input.value.slice(0, 16)}:00${offset}`),
        );
        return { node: input };
      }
      case 'string': {
        const input = el('input', { ...common, type: 'text', value: text, autocomplete: 'off', maxlength: kind.max_len ? String(kind.max_len) : undefined });
        input.addEventListener('input', () => set(input.value === '' ? undefined : input.value));
        return { node: input };
      }
      default: {
        // Anything else (arrays of scalars, …): its JSON.
        const area = el('textarea', { ...common, rows: '2' });
        area.value = current === undefined ? '' : mod.stringify(current);
        area.addEventListener('input', () => {
          try {
            set(area.value.trim() === '' ? undefined : mod.parse(area.value));
          } catch {
            set(area.value);
          }
        });
        return { node: area };
      }
    }
  }

  private renderArray(
    name: string,
    field: Field & { type: 'array' },
    type: Eligo.ObjectType,
    parent: Obj,
    path: string,
    label: string,
    helpNode: HTMLElement | undefined,
  ): HTMLElement {
    const { words } = this.opts;
    const items = Array.isArray(parent[name]) ? (parent[name] as Obj[]) : [];
    const set = el('fieldset', { class: 'group array', id: pathId(path), 'data-path': path }, el('legend', {}, label), helpNode);
    this.wrappers.set(path, set);
    items.forEach((item, index) => {
      const itemPath = `${path}[${index}]`;
      const itemLabel = `${label} ${index + 1}`;
      const remove = el('button', { type: 'button', class: 'remove', 'aria-label': `${words.removeItem}: ${itemLabel}` }, words.removeItem);
      remove.disabled = items.length <= field.min_items;
      remove.addEventListener('click', () => {
        items.splice(index, 1);
        if (items.length === 0 && !field.required) delete parent[name];
        this.render();
        this.opts.onChange();
        (this.root.querySelector(`#${CSS.escape(pathId(path))}-add`) as HTMLElement | null)?.focus();
      });
      const group = el('fieldset', { class: 'group item', id: pathId(itemPath), 'data-path': itemPath }, el('legend', {}, itemLabel), remove);
      group.append(this.renderObject(type, item, itemPath), this.message(itemPath));
      this.wrappers.set(itemPath, group);
      set.append(group);
    });
    const add = el('button', { type: 'button', class: 'add', id: `${pathId(path)}-add` }, `+ ${words.addItem}: ${label}`);
    add.disabled = items.length >= field.max_items;
    add.addEventListener('click', () => {
      if (!Array.isArray(parent[name])) parent[name] = [];
      (parent[name] as Obj[]).push({});
      this.render();
      this.opts.onChange();
      const first = this.root.querySelector(`#${CSS.escape(pathId(`${path}[${(parent[name] as Obj[]).length - 1}]`))} input, #${CSS.escape(pathId(`${path}[${(parent[name] as Obj[]).length - 1}]`))} select`);
      (first as HTMLElement | null)?.focus();
    });
    set.append(add, this.message(path));
    return set;
  }

  /** The closest control (or group) for a JSON path: `members[1].age`, `members[1]`, `members`, `$`. */
  wrapperFor(path: string): HTMLElement | undefined {
    let p = path;
    for (;;) {
      const found = this.wrappers.get(p);
      if (found) return found;
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      if (cut <= 0) return undefined;
      p = p.slice(0, cut);
    }
  }

  /** Shows the engine's problems and questions at their fields. Returns those placed nowhere. */
  annotate(problems: Eligo.FieldProblem[], needs: Eligo.Need[]): { unplaced: string[] } {
    const { words, lang } = this.opts;
    for (const node of this.root.querySelectorAll('.msg')) node.replaceChildren();
    for (const node of this.root.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
    for (const node of this.root.querySelectorAll('.has-need, .has-error, .has-hint')) node.classList.remove('has-need', 'has-error', 'has-hint');
    const unplaced: string[] = [];
    const put = (path: string, cls: string, node: HTMLElement) => {
      const wrapper = this.wrapperFor(path);
      const msg = wrapper ? (wrapper.querySelector(':scope > .msg') as HTMLElement | null) : null;
      if (!wrapper || !msg) {
        unplaced.push(node.textContent ?? '');
        return;
      }
      wrapper.classList.add(cls);
      msg.append(node);
      if (cls === 'has-error') {
        const control = wrapper.querySelector(`#${CSS.escape(pathId(path))}`) ?? wrapper.querySelector('input, select, textarea');
        control?.setAttribute('aria-invalid', 'true');
      }
    };
    for (const problem of problems) {
      if (problem.rule === 'required') {
        put(problem.path, 'has-hint', el('span', { class: 'hint' }, words.pleaseFill));
      } else {
        put(problem.path, 'has-error', el('span', { class: 'error', role: 'alert' }, problemText(lang, problem.rule, problem.message)));
      }
    }
    for (const need of needs) {
      put(need.path, 'has-need', el('span', { class: 'need' }, el('strong', {}, words.pleaseAnswer), ' ', need.question));
    }
    return { unplaced };
  }
}
