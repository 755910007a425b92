/** Timer (hourly, `REFRESH_TOKENS_SCHEDULE`): keeps a fresh token in every enabled service principal's cache. */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { identityJobDeps } from '../shared/adapters/identity/factory';
import { loggerFor } from '../shared/composition-root';
import { refreshAllTokens } from '../shared/domain/identity/jobs';

export async function refreshTokens(_timer: Timer, context: InvocationContext): Promise<void> {
  const logger = loggerFor(context, { function: 'refresh-tokens' });
  // One principal failing is logged inside and never stops the others.
  const summary = await refreshAllTokens(identityJobDeps(logger));
  logger.info('token refresh finished', {
    principals: summary.principals,
    refreshed: summary.refreshed,
    cached: summary.cached,
    failed: summary.failed,
  });
}

app.timer('refresh-tokens', {
  schedule: '%REFRESH_TOKENS_SCHEDULE%',
  handler: refreshTokens,
});
