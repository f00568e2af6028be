// The typed API's JSON reader and writer (`parse` and `stringify` in
// target/wasm/index.js) against references: the plain versions they
// replaced (a regular expression per number, JSON.parse per string, a path
// built for every field). Both readers read generated texts, valid and
// broken: they must return the same values (a Decimal with the same text,
// own keys in the same order) or throw the same SyntaxError. Both writers
// write what was read, with values JSON cannot carry put in: the same text
// or the same TypeError.
// argv: the package directory. Prints the counts as one JSON line.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [, , pkgDir] = process.argv;
const { parse, stringify, Decimal } = await import(pathToFileURL(join(pkgDir, 'index.js')).href);

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const INTEGER = /^-?\d+$/;

function referenceParse(text) {
  let at = 0;
  const fail = (what) => {
    throw new SyntaxError(`${what} at offset ${at} of the JSON text`);
  };
  const space = () => {
    while (at < text.length) {
      const c = text.charCodeAt(at);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) at++;
      else break;
    }
  };
  const expect = (char) => {
    space();
    if (text[at] !== char) fail(`expected ${char}`);
    at++;
  };
  const string = () => {
    const start = at;
    at++;
    while (at < text.length && text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
    if (at >= text.length) fail('unterminated string');
    at++;
    return JSON.parse(text.slice(start, at));
  };
  const word = (w, v) => {
    if (text.startsWith(w, at)) {
      at += w.length;
      return v;
    }
    return fail('unexpected token');
  };
  const value = () => {
    space();
    switch (text[at]) {
      case '{': {
        at++;
        const object = {};
        space();
        if (text[at] === '}') {
          at++;
          return object;
        }
        for (;;) {
          space();
          if (text[at] !== '"') fail('expected a key');
          const key = string();
          // A key named twice is refused, as the engine refuses it in an
          // input: one text, one reading.
          if (Object.prototype.hasOwnProperty.call(object, key)) fail(`the key ${JSON.stringify(key)} appears twice`);
          expect(':');
          // defineProperty: a "__proto__" key stays an own property.
          Object.defineProperty(object, key, {
            value: value(),
            enumerable: true,
            writable: true,
            configurable: true,
          });
          space();
          if (text[at] === ',') {
            at++;
            continue;
          }
          expect('}');
          return object;
        }
      }
      case '[': {
        at++;
        const array = [];
        space();
        if (text[at] === ']') {
          at++;
          return array;
        }
        for (;;) {
          array.push(value());
          space();
          if (text[at] === ',') {
            at++;
            continue;
          }
          expect(']');
          return array;
        }
      }
      case '"':
        return string();
      case 't':
        return word('true', true);
      case 'f':
        return word('false', false);
      case 'n':
        return word('null', null);
      default: {
        NUMBER.lastIndex = at;
        const match = NUMBER.exec(text);
        if (!match) fail('unexpected token');
        at = NUMBER.lastIndex;
        const literal = match[0];
        if (INTEGER.test(literal)) {
          const n = Number(literal);
          if (Number.isSafeInteger(n)) return n;
        }
        return new Decimal(literal);
      }
    }
  };
  const result = value();
  space();
  if (at !== text.length) fail('trailing text');
  return result;
}

function referenceStringify(value, path = '') {
  if (value instanceof Decimal) return value.text;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path || '$'}: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => (item === undefined ? 'null' : referenceStringify(item, `${path}[${i}]`))).join(',')}]`;
      }
      if (typeof value.toJSON === 'function') return referenceStringify(value.toJSON(), path);
      const fields = Object.keys(value)
        .filter((key) => value[key] !== undefined && typeof value[key] !== 'function')
        .map((key) => `${JSON.stringify(key)}:${referenceStringify(value[key], path ? `${path}.${key}` : key)}`);
      return `{${fields.join(',')}}`;
    }
    default:
      throw new TypeError(`${path || '$'}: a ${typeof value} cannot be sent to the engine`);
  }
}


// A fixed-seed generator (xorshift32), so a failure repeats.
let seed = 0x2545f491;
const below = (n) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const pick = (items) => items[below(items.length)];

const SPACE = ['', '', '', ' ', '\n', '\t', '\r\n  '];
const KEYS = ['a', 'b', 'age', '', '__proto__', 'constructor', 'toString', '1', '10', '键', 'a\\"b', 'x\\u0041', 'é', 'a b'];
const STRING_PIECES = ['', 'x', 'hello', '月收入', '\\n', '\\"', '\\\\', '\\/', '\\u00e9', '\\ud83d\\ude00', '\\ud800', '😀', '\u0001', '\\q', '\\u12', ' '];
const NUMBERS = [
  '0', '-0', '1', '-12', '42', '9007199254740991', '-9007199254740991', '9007199254740992', '12345678901234567890',
  '1.5', '1800.00', '0.1', '-0.0', '1e3', '1E-3', '-2.5e+10', '0e0', '01', '1.', '.5', '-', '1e', '1e+', '--1', '+1', '1.2.3',
];
const WORDS = ['true', 'false', 'null', 'tru', 'nul', 'True'];

const space = () => pick(SPACE);
const value = (depth) => {
  switch (below(depth > 3 ? 3 : 5)) {
    case 0:
      return `"${Array.from({ length: below(4) }, () => pick(STRING_PIECES)).join('')}"`;
    case 1:
      return pick(NUMBERS);
    case 2:
      return pick(WORDS);
    case 3: {
      const items = Array.from({ length: below(5) }, () => space() + value(depth + 1) + space());
      return `[${items.join(',')}]`;
    }
    default: {
      const fields = Array.from({ length: below(5) }, () => `${space()}"${pick(KEYS)}"${space()}:${space()}${value(depth + 1)}${space()}`);
      return `{${fields.join(',')}}`;
    }
  }
};
const BREAKERS = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', 'x', '0', '-', '.', 'e', '\u0000'];
const text = () => {
  const whole = space() + value(0) + space();
  switch (below(4)) {
    case 0:
      return whole.slice(0, below(whole.length + 1));
    case 1: {
      const at = below(whole.length + 1);
      return whole.slice(0, at) + pick(BREAKERS) + whole.slice(at);
    }
    case 2: {
      const at = below(whole.length);
      return whole.slice(0, at) + whole.slice(at + 1);
    }
    default:
      return whole;
  }
};

// A value written out so that equal dumps mean equal values: numbers with
// their sign of zero, a Decimal with its text, own keys in order.
const dump = (v, signedZero = true) => {
  if (v instanceof Decimal) return `D(${v.text})`;
  if (typeof v === 'number') return `N(${signedZero && Object.is(v, -0) ? '-0' : String(v)})`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((item) => dump(item, signedZero)).join(',')}]`;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  return `{${Reflect.ownKeys(v).map((k) => `${JSON.stringify(k)}:${dump(v[k], signedZero)}`).join(',')}}`;
};
const outcome = (read, source) => {
  try {
    return `value ${dump(read(source))}`;
  } catch (error) {
    return `${error.constructor.name}: ${error.message}`;
  }
};

// What JSON cannot carry, put into a read value at a random place.
const UNSENDABLE = [undefined, () => 1, NaN, Infinity, -Infinity, 10n, Symbol('s'), new Date(0), { toJSON: () => [1, undefined] }, { toJSON: () => NaN }];
const spoil = (v) => {
  if (v === null || typeof v !== 'object' || v instanceof Decimal || below(3) === 0) {
    return below(4) === 0 ? pick(UNSENDABLE) : v;
  }
  if (Array.isArray(v)) return v.map(spoil);
  const copy = {};
  for (const key of Object.keys(v)) {
    // defineProperty: an own `__proto__` key stays one.
    Object.defineProperty(copy, key, { value: spoil(v[key]), enumerable: true, writable: true, configurable: true });
  }
  if (below(4) === 0) copy[`extra${below(3)}`] = pick(UNSENDABLE);
  return copy;
};

const counts = { texts: 0, values: 0, errors: 0, decimals: 0, proto_keys: 0, writes: 0, write_errors: 0 };
for (let i = 0; i < 20000; i++) {
  const source = text();
  const expected = outcome(referenceParse, source);
  const seen = outcome(parse, source);
  assert.equal(seen, expected, `the reader and its reference differ on ${JSON.stringify(source)}`);
  counts.texts++;
  if (expected.startsWith('value ')) {
    counts.values++;
    if (expected.includes('D(')) counts.decimals++;
    if (expected.includes('"__proto__":')) counts.proto_keys++;
    const read = parse(source);
    // Written back unchanged, the text reads as the same value (JSON has
    // no negative zero).
    assert.equal(dump(parse(stringify(read)), false), dump(read, false));
    for (const value of [read, spoil(read)]) {
      const written = outcome(stringify, value);
      assert.equal(written, outcome(referenceStringify, value), `the writers differ on ${JSON.stringify(source)}`);
      counts.writes++;
      if (!written.startsWith('value ')) counts.write_errors++;
    }
  } else {
    counts.errors++;
  }
}

// Keys Object.prototype has are own properties whatever was done to it: a
// setter added to it (a library's, or pollution), or the whole of it frozen.
let seenBySetter = 0;
Object.defineProperty(Object.prototype, 'role', { set() { seenBySetter++; }, configurable: true });
const withSetter = parse('{"role": "admin", "inner": {"role": 1}}');
assert.equal(seenBySetter, 0);
assert.ok(Object.hasOwn(withSetter, 'role') && withSetter.role === 'admin');
assert.ok(Object.hasOwn(withSetter.inner, 'role') && withSetter.inner.role === 1);
assert.throws(() => parse('{"role": 1, "role": 2}'), /the key "role" appears twice/);
delete Object.prototype.role;
Object.freeze(Object.prototype);
const overFrozen = parse('{"toString": 1, "constructor": {"valueOf": 2}, "__proto__": 3}');
assert.deepEqual(Object.keys(overFrozen), ['toString', 'constructor', '__proto__']);
assert.equal(overFrozen.constructor.valueOf, 2);
assert.equal(Object.getPrototypeOf(overFrozen), Object.prototype);
console.log(JSON.stringify(counts));
