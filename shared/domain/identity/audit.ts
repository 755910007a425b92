import type { ServicePrincipalAuditEntry, ServicePrincipalRecord } from '../records';

/** How many audit entries a principal keeps (newest last). */
export const AUDIT_KEEP = 20;

/** The record with `entry` appended (oldest entries dropped beyond AUDIT_KEEP). Pure. */
export function withAudit(record: ServicePrincipalRecord, entry: ServicePrincipalAuditEntry): ServicePrincipalRecord {
  const message = entry.message === undefined ? undefined : entry.message.slice(0, 1000);
  const clean: ServicePrincipalAuditEntry = {
    at: entry.at,
    action: entry.action,
    actor: entry.actor.slice(0, 320),
    ...(entry.code === undefined ? {} : { code: entry.code.slice(0, 100) }),
    ...(message === undefined ? {} : { message }),
  };
  return { ...record, audit: [...(record.audit ?? []), clean].slice(-AUDIT_KEEP) };
}

/** The actor recorded for scheduled jobs. */
export const SYSTEM_ACTOR = 'system';
