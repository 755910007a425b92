/**
 * Timer (daily, `VALIDATE_PRINCIPALS_SCHEDULE`): tests every enabled service principal; disables one only on
 * a definitive credential error, never on outages or throttling; records expiry warnings.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { identityJobDeps } from '../shared/adapters/identity/factory';
import { loggerFor } from '../shared/composition-root';
import { validateServicePrincipals as validateAll } from '../shared/domain/identity/jobs';

export async function validateServicePrincipals(_timer: Timer, context: InvocationContext): Promise<void> {
  const logger = loggerFor(context, { function: 'validate-service-principals' });
  const summary = await validateAll(identityJobDeps(logger));
  logger.info('service principal validation finished', {
    checked: summary.checked,
    valid: summary.valid,
    disabled: summary.disabled,
    failed: summary.failed,
  });
}

app.timer('validate-service-principals', {
  schedule: '%VALIDATE_PRINCIPALS_SCHEDULE%',
  handler: validateServicePrincipals,
});
