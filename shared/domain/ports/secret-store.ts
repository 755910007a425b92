/** Secrets (client secrets, certificate PEMs, token-cache keys) live only here: Key Vault in every deployment. */
export interface StoredSecret {
  name: string;
  value: string;
  /** The version identifier, so callers can pin one. */
  version: string;
  expiresOn: Date | undefined;
}

export interface SecretStore {
  /** Stores a new version; returns its version id. Names: 1–127 of [0-9a-zA-Z-]. */
  set(
    name: string,
    value: string,
    options?: { expiresOn?: Date; contentType?: string; tags?: Record<string, string> },
  ): Promise<StoredSecret>;
  /** The latest (or a given) version; `undefined` when no such secret exists. */
  get(name: string, version?: string): Promise<StoredSecret | undefined>;
  /** Deletes the secret (soft delete in Key Vault). Missing secrets are not an error. */
  delete(name: string): Promise<void>;
}
