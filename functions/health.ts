/** `GET /api/health` (anonymous): dependency status for probes and operators; 503 when one is unreachable. */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getRepositories, loggerFor } from '../shared/composition-root';
import { appVersion } from '../shared/config';
import { defaultHealthProbes } from '../shared/health-probes';
import { listCredentialWarnings } from '../shared/domain/identity/jobs';
import { systemClock } from '../shared/domain/ports/clock';
import { checkHealth } from '../shared/use-cases/health';

export async function health(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const report = await checkHealth({
    probes: defaultHealthProbes(),
    version: appVersion(),
    logger: loggerFor(context, { function: 'health' }),
    // Credentials expiring within 30 days (still 200: a warning, not an outage).
    credentialWarnings: () =>
      listCredentialWarnings({
        servicePrincipals: getRepositories().servicePrincipals,
        clock: systemClock,
      }),
  });
  return {
    status: report.status === 'ok' ? 200 : 503,
    headers: { 'cache-control': 'no-store' },
    jsonBody: report,
  };
}

app.http('health', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'health',
  handler: health,
});
