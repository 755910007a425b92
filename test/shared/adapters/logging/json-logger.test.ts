/** Log adapters: JSON lines or the invocation context, levels, child fields, and redaction of secrets. */
import { createInvocationLogger, createJsonLogger } from '../../../../shared/adapters/logging';

describe('createJsonLogger', () => {
  it('writes one JSON object per entry with time, level, message and fields', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (l) => lines.push(l), now: () => new Date('2026-01-02T03:04:05Z') });
    logger.info('synced', { emailAccount: 'ea-1', messages: 3 });
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { time: '2026-01-02T03:04:05.000Z', level: 'info', msg: 'synced', emailAccount: 'ea-1', messages: 3 },
    ]);
  });

  it('drops entries below the configured level and adds child fields to every entry', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ level: 'warn', write: (l) => lines.push(l) }).child({ emailAccount: 'ea-2' });
    logger.info('not written');
    logger.warn('throttled', { retryAfter: 5 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'warn',
      msg: 'throttled',
      emailAccount: 'ea-2',
      retryAfter: 5,
    });
  });

  it('redacts secret-looking fields, bearer tokens and JWTs, and never writes stack traces', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (l) => lines.push(l) });
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    logger.error('call failed', {
      clientSecret: 's3cr3t-value',
      headers: { authorization: 'Bearer abc.def' },
      detail: `token was ${jwt}`,
      error: new Error('boom'),
    });
    const text = lines[0]!;
    expect(text).not.toContain('s3cr3t-value');
    expect(text).not.toContain('abc.def');
    expect(text).not.toContain(jwt);
    expect(text).not.toContain('json-logger.test.ts'); // no stack
    expect(JSON.parse(text)).toMatchObject({ clientSecret: '[redacted]', error: { name: 'Error', message: 'boom' } });
  });

  it('keeps its own time/level/msg when a field has the same name', () => {
    const lines: string[] = [];
    createJsonLogger({ write: (l) => lines.push(l) }).info('m', { level: 'fake', msg: 'x' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'm', 'field.level': 'fake', 'field.msg': 'x' });
  });
});

describe('createInvocationLogger', () => {
  it('logs through the invocation context at the matching level, fields as JSON', () => {
    const calls: Array<[string, unknown[]]> = [];
    const context = {
      debug: (...a: unknown[]) => calls.push(['debug', a]),
      info: (...a: unknown[]) => calls.push(['info', a]),
      warn: (...a: unknown[]) => calls.push(['warn', a]),
      error: (...a: unknown[]) => calls.push(['error', a]),
    };
    const logger = createInvocationLogger(context, { fields: { function: 'health' } });
    logger.debug('hidden at info');
    logger.warn('slow', { latencyMs: 900, password: 'p' });
    expect(calls).toEqual([['warn', ['slow {"function":"health","latencyMs":900,"password":"[redacted]"}']]]);
  });
});
