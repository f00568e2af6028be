// Type-checked (tsc --noEmit --strict) against target/wasm/index.d.ts: a form
// and a policy playground written against the typed API compile, and misuse
// does not.
import {
  init,
  Engine,
  EligoError,
  Decimal,
  check,
  type Envelope,
  type DecideRequest,
  type BundleSource,
  type CheckReport,
  type TestReport,
  type Field,
} from '../../target/wasm/index.js';

interface HouseholdResult {
  per_capita_income: Decimal;
  programs: { temporary_relief: { eligible: boolean; monthly_amount?: Decimal } };
}

export async function form(bundle: BundleSource, input: Record<string, unknown>): Promise<string> {
  await init();
  const engine = Engine.load(bundle, { artifact: 'sha256:…', tests: false });
  const report: CheckReport = check(bundle);
  const fields: Record<string, Field> = engine.entries()[0].schema.root.fields;
  const request: DecideRequest = { entry: 'household', input, as_of: '2026-11-20T09:00:00+08:00', mode: 'partial' };
  try {
    const envelope: Envelope<HouseholdResult> = engine.decide<HouseholdResult>(request);
    const amount: string | undefined = envelope.result.programs.temporary_relief.monthly_amount?.text;
    const questions: string[] = (envelope.needs ?? []).map((need) => `${need.path}: ${need.question}`);
    const tests: TestReport = engine.test();
    const requestBytes: Uint8Array = new TextEncoder().encode(JSON.stringify(request));
    const bytes: Uint8Array = engine.decideUtf8(requestBytes);
    const written: number = engine.decideUtf8Into(requestBytes, new Uint8Array(bytes.length));
    return `${envelope.status} ${amount} ${questions.join()} ${tests.failed} ${report.ok} ${Object.keys(fields)} ${written}`;
  } catch (error) {
    if (error instanceof EligoError && error.kind === 'invalid_input') {
      return error.problems.map((p) => `${p.path} [${p.rule}]`).join('\n');
    }
    throw error;
  } finally {
    engine.free();
  }
}

// Misuse the types must reject.
// @ts-expect-error the mode is strict or partial
const badMode: DecideRequest = { entry: 'household', input: {}, as_of: '', mode: 'lenient' };
// @ts-expect-error money is a Decimal, not a float
const badMoney: number = ({} as Envelope<HouseholdResult>).result.per_capita_income;
// @ts-expect-error an engine is made by Engine.load
const badEngine = new Engine();
export { badMode, badMoney, badEngine };
