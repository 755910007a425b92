import { mapCosmosError } from '../../../../shared/adapters/cosmos/errors';
import { AppError, notFound } from '../../../../shared/errors';

// Shapes as the Cosmos SDK throws them: ErrorResponse (numeric `code`), Node socket errors (string `code`),
// and abort/timeout errors. The stand-in cannot throttle or fail on demand, so these are checked directly.
describe('mapCosmosError', () => {
  it.each([
    ['throttled (429)', { code: 429, message: 'Request rate is large' }],
    ['service unavailable (503)', { code: 503, message: 'unavailable' }],
    ['request timeout (408)', { code: 408, message: 'timeout' }],
    ['refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['reset socket', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['client timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
    ['wrapped network cause', new Error('request failed', { cause: { code: 'ETIMEDOUT' } })],
    ['refused credentials (403)', { code: 403, message: 'forbidden' }],
  ])('maps %s to DEPENDENCY_UNAVAILABLE (retryable)', (_label, error) => {
    const mapped = mapCosmosError(error, 'read');
    expect(mapped.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(mapped.retryable).toBe(true);
    expect(mapped.cause).toBe(error);
  });

  it('maps an unexpected client error to INTERNAL and keeps AppErrors as they are', () => {
    expect(mapCosmosError({ code: 400, message: 'bad request' }, 'query')).toMatchObject({
      code: 'INTERNAL',
      retryable: false,
    });
    const appError = notFound('The account');
    expect(mapCosmosError(appError, 'read')).toBe(appError);
    expect(mapCosmosError('weird', 'read')).toBeInstanceOf(AppError);
  });
});
