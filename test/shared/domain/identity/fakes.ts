/**
 * Small in-memory stand-ins for the identity area's unit tests (pure logic only; adapters are tested
 * against the real stand-ins).
 */
import { randomBytes } from 'node:crypto';
/* eslint-disable @typescript-eslint/require-await -- the fakes implement async ports synchronously */
import { AppError } from '../../../../shared/errors';
import type { Clock } from '../../../../shared/domain/ports/clock';
import type { LogFields, Logger } from '../../../../shared/domain/ports/logger';
import { redact } from '../../../../shared/domain/ports/logger';
import type { EmailAccountFilter, EmailAccountRepository } from '../../../../shared/domain/ports/repositories';
import type { SecretStore, StoredSecret } from '../../../../shared/domain/ports/secret-store';
import { idForName, type EmailAccountRecord, type ServicePrincipalRecord } from '../../../../shared/domain/records';
import { InMemoryServicePrincipalRepository } from '../../../support/in-memory-repositories';
import type { AccessToken, GetTokenOptions, TokenProvider } from '../../../../shared/domain/identity';

export class FakeClock implements Clock {
  constructor(public current = new Date('2026-11-22T10:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export class InMemorySecretStore implements SecretStore {
  readonly versions = new Map<string, StoredSecret[]>();
  deleted: string[] = [];
  failNextSet = false;

  async set(
    name: string,
    value: string,
    options: { expiresOn?: Date; contentType?: string; tags?: Record<string, string> } = {},
  ): Promise<StoredSecret> {
    if (this.failNextSet) {
      this.failNextSet = false;
      throw new AppError('DEPENDENCY_UNAVAILABLE', 'Key Vault is not reachable right now.');
    }
    if (!/^[0-9a-zA-Z-]{1,127}$/.test(name)) throw new Error(`bad secret name ${name}`);
    const stored: StoredSecret = {
      name,
      value,
      version: randomBytes(16).toString('hex'),
      expiresOn: options.expiresOn,
    };
    this.versions.set(name, [...(this.versions.get(name) ?? []), stored]);
    return stored;
  }

  async get(name: string, version?: string): Promise<StoredSecret | undefined> {
    const all = this.versions.get(name);
    if (!all) return undefined;
    return version ? all.find((v) => v.version === version) : all[all.length - 1];
  }

  async delete(name: string): Promise<void> {
    this.versions.delete(name);
    this.deleted.push(name);
  }

  /** Every value stored, for leak scans. */
  allValues(): string[] {
    return [...this.versions.values()].flat().map((s) => s.value);
  }
}

/**
 * The shared in-memory repository (same semantics as Cosmos), plus a `records` view keyed by id so tests
 * can look at or plant stored documents directly.
 */
export class InMemoryServicePrincipals extends InMemoryServicePrincipalRepository {
  readonly records = {
    get: (id: string): ServicePrincipalRecord | undefined => this.table.read(id),
    set: (id: string, record: ServicePrincipalRecord): void => {
      const { etag: _etag, ...doc } = record;
      this.table.upsert(id, doc);
    },
    size: (): number => this.table.size,
  };

  constructor(clock: Clock) {
    super(clock);
  }
}

/** Only what the identity use cases read from email accounts. */
export class FakeEmailAccounts implements Pick<EmailAccountRepository, 'countByServicePrincipal' | 'listAll'> {
  accounts: Array<Pick<EmailAccountRecord, 'accountName' | 'emailAddress' | 'servicePrincipal' | 'enabled'>> = [];

  async countByServicePrincipal(name: string): Promise<number> {
    return this.accounts.filter((a) => idForName(a.servicePrincipal) === idForName(name)).length;
  }

  async *listAll(filter: EmailAccountFilter = {}): AsyncIterable<EmailAccountRecord> {
    for (const a of this.accounts) {
      if (filter.servicePrincipal && idForName(a.servicePrincipal) !== idForName(filter.servicePrincipal)) continue;
      if (filter.enabled !== undefined && a.enabled !== filter.enabled) continue;
      yield a as EmailAccountRecord;
    }
  }
}

export interface CapturedLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields;
}

/**
 * Records every entry after `redact` (as real adapters write them) and, separately, exactly as the code
 * passed it (so leak scans also catch what redaction would have hidden).
 */
export class CapturingLogger implements Logger {
  constructor(
    readonly entries: CapturedLog[] = [],
    private readonly base: LogFields = {},
    readonly raw: string[] = [],
  ) {}
  private write(level: CapturedLog['level'], message: string, fields: LogFields = {}): void {
    const all = { ...this.base, ...fields };
    this.raw.push(
      JSON.stringify({ level, message, fields: all }, (_key, value: unknown) =>
        value instanceof Error ? { ...value, name: value.name, message: value.message, cause: value.cause } : value,
      ),
    );
    this.entries.push({ level, message, fields: redact(all) as LogFields });
  }
  debug(m: string, f?: LogFields): void {
    this.write('debug', m, f);
  }
  info(m: string, f?: LogFields): void {
    this.write('info', m, f);
  }
  warn(m: string, f?: LogFields): void {
    this.write('warn', m, f);
  }
  error(m: string, f?: LogFields): void {
    this.write('error', m, f);
  }
  child(fields: LogFields): Logger {
    return new CapturingLogger(this.entries, { ...this.base, ...fields }, this.raw);
  }
  /** Redacted entries followed by the raw ones. */
  text(): string {
    return JSON.stringify(this.entries) + this.raw.join('\n');
  }
}

/** A token provider scripted per principal name: a token, or an error to throw. */
export class ScriptedTokenProvider implements TokenProvider {
  readonly calls: Array<{ name: string; options: GetTokenOptions }> = [];
  outcomes = new Map<string, AccessToken | Error>();

  async getToken(principal: ServicePrincipalRecord, options: GetTokenOptions = {}): Promise<AccessToken> {
    this.calls.push({ name: principal.servicePrincipalName, options });
    const outcome = this.outcomes.get(principal.servicePrincipalName);
    if (outcome === undefined) throw new Error(`no scripted outcome for ${principal.servicePrincipalName}`);
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }
}

/** An unsigned JWT-shaped token carrying `roles` (what test connection reads). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.sig`;
}

/** An MSAL-shaped server error (what `ConfidentialClientApplication` throws for a refused request). */
export function msalServerError(errorCode: string, errorNo: string | undefined, status: number | undefined): Error {
  const error = new Error(`${errorCode}: Error(s): ${errorNo ?? ''} - Description: AADSTS${errorNo ?? ''}: something`);
  return Object.assign(error, { name: 'ServerError', errorCode, errorNo, status, errorMessage: error.message });
}
