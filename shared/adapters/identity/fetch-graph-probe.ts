/**
 * GraphProbe over `fetch`: one authenticated GET with a short timeout. The URL is checked against
 * Microsoft Graph hosts and ALLOWED_DEV_HOSTS before the token is sent.
 */
import { isKnownGraphUrl } from '../../domain/identity/endpoints';
import type { GraphProbe, GraphProbeResponse } from '../../domain/identity/ports';

export interface FetchGraphProbeOptions {
  allowedDevHosts: readonly string[];
  timeoutMs?: number;
}

function networkCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'TIMEOUT';
  return 'network_error';
}

export class FetchGraphProbe implements GraphProbe {
  constructor(private readonly options: FetchGraphProbeOptions) {}

  async get(graphApiEndpoint: string, accessToken: string, pathAndQuery: string): Promise<GraphProbeResponse> {
    const url = `${graphApiEndpoint.replace(/\/$/, '')}${pathAndQuery}`;
    if (!isKnownGraphUrl(url, this.options.allowedDevHosts)) return { status: 0, errorCode: 'ENDPOINT_NOT_ALLOWED' };
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      return { status: 0, errorCode: networkCode(error) };
    }
    if (response.ok) {
      await response.body?.cancel();
      return { status: response.status };
    }
    let errorCode: string | undefined;
    try {
      const body = (await response.json()) as { error?: { code?: unknown } };
      if (typeof body.error?.code === 'string') errorCode = body.error.code;
    } catch {
      errorCode = undefined;
    }
    return { status: response.status, ...(errorCode ? { errorCode } : {}) };
  }
}
