/**
 * Health of the service's dependencies, for `GET /api/health`. Each probe gets a short deadline (3 s by
 * default) and an abort signal; all run in parallel. Failures are described with safe, fixed wording plus the
 * error's code (never its message or stack, which may carry URLs, keys or internals); the full error is logged.
 */
import { isAppError } from '../errors';
import type { Logger } from '../domain/ports/logger';

export type DependencyName = 'cosmos' | 'storage';

/** Resolves when the dependency answered correctly; rejects otherwise. Should honour `signal`. */
export type HealthProbe = (signal: AbortSignal) => Promise<void>;

export interface DependencyHealth {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  version: string;
  checks: Record<DependencyName, DependencyHealth>;
  /** Service principal credentials expiring within 30 days (or expired); absent when there are none. */
  warnings?: HealthWarning[];
}

export interface HealthWarning {
  servicePrincipalName: string;
  expiresAt: string;
  message: string;
}

export interface HealthDeps {
  probes: Record<DependencyName, HealthProbe>;
  version: string;
  logger: Logger;
  timeoutMs?: number;
  /** Credential expiry warnings: listed in the report, never making it degraded; skipped when they fail. */
  credentialWarnings?: () => Promise<HealthWarning[]>;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 3000;

class ProbeTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

const SAFE_CODE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** A short description of why a probe failed that is safe to show to anonymous callers. */
export function describeProbeFailure(error: unknown): string {
  if (error instanceof ProbeTimeout) return `timed out after ${error.timeoutMs} ms`;
  if (isAppError(error, 'CONFIG_INVALID')) return 'configuration is invalid';
  const e = (error ?? {}) as { code?: unknown; statusCode?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const safeCode = code && SAFE_CODE.test(code) ? code : undefined;
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.code === 'number' ? e.code : undefined;
  if (status !== undefined && status > 0) return `responded with HTTP ${status}${safeCode ? ` (${safeCode})` : ''}`;
  if (safeCode) return `unreachable (${safeCode})`;
  return 'unavailable';
}

async function runProbe(
  name: DependencyName,
  probe: HealthProbe,
  timeoutMs: number,
  logger: Logger,
): Promise<DependencyHealth> {
  const startedAt = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ProbeTimeout(timeoutMs));
    }, timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(() => probe(controller.signal)), deadline]);
    return { ok: true, latencyMs: Math.round(performance.now() - startedAt) };
  } catch (error) {
    const description = describeProbeFailure(error);
    logger.warn('health check failed', { dependency: name, reason: description, error });
    return { ok: false, latencyMs: Math.round(performance.now() - startedAt), error: description };
  } finally {
    clearTimeout(timer);
  }
}

export async function checkHealth(deps: HealthDeps): Promise<HealthReport> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const [cosmos, storage, warnings] = await Promise.all([
    runProbe('cosmos', deps.probes.cosmos, timeoutMs, deps.logger),
    runProbe('storage', deps.probes.storage, timeoutMs, deps.logger),
    readWarnings(deps.credentialWarnings, timeoutMs, deps.logger),
  ]);
  return {
    status: cosmos.ok && storage.ok ? 'ok' : 'degraded',
    version: deps.version,
    checks: { cosmos, storage },
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** The warnings within the probe deadline; none when they cannot be read (the probes report outages). */
async function readWarnings(
  read: HealthDeps['credentialWarnings'],
  timeoutMs: number,
  logger: Logger,
): Promise<HealthWarning[]> {
  if (!read) return [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(timeoutMs)), timeoutMs);
  });
  try {
    const warnings = await Promise.race([Promise.resolve().then(read), deadline]);
    return warnings.map(({ servicePrincipalName, expiresAt, message }) => ({
      servicePrincipalName,
      expiresAt,
      message,
    }));
  } catch (error) {
    logger.warn('health: credential warnings unavailable', { reason: describeProbeFailure(error), error });
    return [];
  } finally {
    clearTimeout(timer);
  }
}
