// Exercises the typed JavaScript API (target/wasm/index.js) in Node.
// argv: the package directory, a packed bundle file, a household input file.
// Asserts what it can on its own; prints what the Rust side compares with
// the native core (envelope bytes, error texts) as one JSON line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [, , pkgDir, packedFile, inputFile] = process.argv;
const eligo = await import(pathToFileURL(join(pkgDir, 'index.js')).href);
const { Engine, EligoError, Decimal, Impact, check, diff, parse, stringify } = eligo;
const AS_OF = '2026-11-20T09:00:00+08:00';

// No argument: the artifact next to the module, read from disk in Node.
await eligo.init();
assert.match(eligo.engineVersion(), /^\d+\.\d+\.\d+/);

const packedText = readFileSync(packedFile, 'utf8');
const packed = parse(packedText);
const fromFiles = Engine.load({ files: packed.files }, { artifact: 'sha256:from-node' });
const fromPacked = Engine.load(packedText);
assert.equal(fromFiles.info.hash, packed.hash);
assert.equal(fromPacked.info.hash, packed.hash);
assert.equal(fromFiles.pack(), packedText.trimEnd(), 'pack() writes what eligo pack writes');
assert.deepEqual(fromFiles.entries().map((e) => e.name), ['community', 'household']);
const household = fromFiles.entries().find((e) => e.name === 'household');
assert.equal(household.schema.root.fields.members.type, 'array');
assert.equal(household.json_schema.properties.members.items.$ref, '#/$defs/Member');
assert.ok(fromFiles.info.parameters.some((p) => p.values.length > 0 && p.values[0].source));
// One text, one reading: a key named twice is refused, as the engine refuses it.
assert.throws(() => parse('{"age": 40, "age": 41}'), /the key "age" appears twice/);

const input = parse(readFileSync(inputFile, 'utf8'));
const request = { entry: 'household', input, as_of: AS_OF };
const envelope = fromFiles.decide(request);
assert.equal(envelope.status, 'decided');
assert.equal(envelope.engine.artifact, 'sha256:from-node');
// Money arrives exact: a Decimal with the engine's own text.
assert.ok(envelope.result.per_capita_income instanceof Decimal);
assert.ok(envelope.result.programs.temporary_relief.monthly_amount instanceof Decimal);
assert.equal(envelope.result.programs.temporary_relief.monthly_amount.text, '1800.00');
// A Decimal in the input is sent as its exact number.
const exactInput = parse(stringify(input));
exactInput.members[1].monthly_income = new Decimal('980.50');
assert.equal(stringify(fromPacked.decide({ ...request, input: exactInput }).result), stringify(fromPacked.decide(request).result));

// The same decision as UTF-8 bytes in and out: the very text decide() read.
const requestBytes = new TextEncoder().encode(stringify(request));
const envelopeBytes = fromFiles.decideUtf8(requestBytes);
assert.ok(envelopeBytes instanceof Uint8Array);
assert.equal(stringify(parse(new TextDecoder().decode(envelopeBytes))), stringify(envelope));
assert.throws(() => fromFiles.decideUtf8(new Uint8Array([0x7b, 0xff, 0x7d])), (e) => e instanceof EligoError && e.kind === 'bad_request' && /not UTF-8/.test(e.message));
assert.throws(() => fromFiles.decideUtf8('{}'), { name: 'TypeError' });
// Into the caller's buffer: the same bytes, its length returned, the rest
// of the buffer untouched; a buffer too small says what it needs.
const buffer = new Uint8Array(envelopeBytes.length + 16).fill(0xee);
assert.equal(fromFiles.decideUtf8Into(requestBytes, buffer), envelopeBytes.length);
assert.deepEqual(buffer.subarray(0, envelopeBytes.length), envelopeBytes);
assert.ok(buffer.subarray(envelopeBytes.length).every((byte) => byte === 0xee));
assert.throws(
  () => fromFiles.decideUtf8Into(requestBytes, new Uint8Array(envelopeBytes.length - 1)),
  (e) => e instanceof RangeError && e.needed === envelopeBytes.length,
);
assert.equal(fromFiles.decideUtf8Into(requestBytes, buffer.subarray(0, envelopeBytes.length)), envelopeBytes.length);
assert.throws(() => fromFiles.decideUtf8Into(new Uint8Array([0x7b, 0xff, 0x7d]), buffer), (e) => e instanceof EligoError && e.kind === 'bad_request' && /not UTF-8/.test(e.message));
assert.throws(() => fromFiles.decideUtf8Into(requestBytes, [1, 2]), { name: 'TypeError' });
// The bytes are the caller's: later calls, which replace the answer the
// engine keeps, leave them as they were.
const kept = envelopeBytes.slice();
fromFiles.decideUtf8(new TextEncoder().encode(stringify({ ...request, input: { ...input, id: 'another household' } })));
assert.throws(() => fromFiles.decideUtf8(new Uint8Array([0xff])), EligoError);
assert.deepEqual(envelopeBytes, kept);

// Partial mode: an elder living alone, and nobody said whether relatives
// live in the city; the decision asks.
const alone = { ...input, members: [{ age: 75, monthly_income: new Decimal('1200.00') }] };
const partial = fromFiles.decide({ ...request, input: alone, mode: 'partial', lang: 'en' });
assert.equal(partial.status, 'undetermined');
assert.deepEqual(partial.needs.map((n) => n.path), ['relatives_in_city']);

// Errors are EligoError with the CLI's text, kind and paths.
const invalidInput = parse(stringify(input));
invalidInput.members[0].age = -1;
invalidInput.members[2].employment = 'astronaut';
let invalid;
try {
  fromFiles.decide({ ...request, input: invalidInput });
  assert.fail('invalid input was accepted');
} catch (error) {
  assert.ok(error instanceof EligoError && error instanceof Error);
  assert.equal(error.kind, 'invalid_input');
  assert.deepEqual(error.problems.map((p) => p.path).sort(), ['members[0].age', 'members[2].employment']);
  invalid = error.message;
}
assert.throws(() => fromFiles.decide({ ...request, as_of: 'yesterday' }), (e) => e instanceof EligoError && e.kind === 'bad_request');
assert.throws(() => fromFiles.decide({ ...request, input: { ...input, size: Infinity } }), {
  name: 'TypeError',
  message: 'input.size: Infinity is not a JSON number',
});

// A broken bundle: check() lists diagnostics; load() throws them.
const broken = { files: { ...packed.files, 'household.rhai': packed.files['household.rhai'].replace('fn decide(input, ctx) {', 'fn decide(input, ctx) { let = 1;') } };
const report = check(broken);
assert.equal(report.ok, false);
assert.ok(report.diagnostics.some((d) => d.file === 'household.rhai' && d.line > 0 && d.column > 0));
assert.equal(check({ files: packed.files }).ok, true);
let bundleError;
try {
  Engine.load(broken);
  assert.fail('a broken bundle loaded');
} catch (error) {
  assert.ok(error instanceof EligoError);
  assert.equal(error.kind, 'bundle_error');
  assert.ok(error.diagnostics.length > 0);
  bundleError = error.message;
}
const tampered = { ...packed, files: { ...packed.files, 'params/relief.toml': '# emptied\n' } };
assert.throws(() => Engine.load(tampered), (e) => e instanceof EligoError && e.diagnostics[0].code === 'packed-hash');

// The bundle's own tests.
const tests = fromPacked.test();
assert.equal(tests.failed, 0);
assert.ok(tests.passed > 0 && tests.passed === tests.cases.length);
// Loaded for deciding only: the same bundle and the same answer, and its
// tests refused rather than reported as none failing.
const lean = Engine.load(packedText, { artifact: 'sha256:from-node', tests: false });
assert.equal(lean.info.hash, packed.hash);
assert.equal(stringify(lean.decide(request)), stringify(envelope));
assert.throws(() => lean.test(), (e) => e instanceof EligoError && e.kind === 'bad_request' && /without its tests/.test(e.message));

// Impact and diff through the engine: a raised relief standard.
const draft = Engine.load({ files: { ...packed.files, 'params/relief.toml': packed.files['params/relief.toml'].replace('value = 600,', 'value = 650,') } });
const impact = new Impact();
const half = new Impact();
const households = [input, { ...input, id: 'second', on_dibao: true }];
households.forEach((household, i) => {
  const decide = (engine) => {
    try {
      return engine.decide({ ...request, input: household });
    } catch (error) {
      return error;
    }
  };
  const [before, after] = [decide(fromFiles), decide(draft)];
  (i === 0 ? impact : half).add(household.id, before, after, { district: household.district });
  if (i === 0) {
    const changes = diff(before, after);
    assert.ok(changes.some((c) => c.path === 'result.programs.temporary_relief.monthly_amount'), JSON.stringify(changes));
  }
});
impact.merge(half);
const impactReport = impact.report();
assert.equal(impactReport.households, 2);
const relief = impactReport.totals['programs.temporary_relief.monthly_amount'];
assert.ok(relief.delta instanceof Decimal || typeof relief.delta === 'number');
assert.ok(Number(String(relief.delta)) > 0, `relief delta ${relief.delta}`);
assert.equal(impactReport.groups.district[input.district].households, 2);
impact.free();
draft.free();

fromFiles.free();
fromPacked.free();
console.log(stringify({ envelope: stringify(envelope), partial: stringify(partial), invalid, bundleError, tests: tests.passed }));
