import { z } from 'zod';
import { isoDateTime, storedFields } from './common';

/** Container `contacts`, partition key `/id`; id derived from the lowercased address (deduped case-insensitively). */
export const contactRecord = z
  .object({
    ...storedFields,
    docType: z.literal('contact'),
    emailId: z.string().min(3).max(320),
    fullName: z.string().max(300).optional(),
    firstName: z.string().max(150).optional(),
    lastName: z.string().max(150).optional(),
    /** The accounts whose mail mentioned this address. */
    emailAccounts: z.array(z.string()).max(1000),
    /** Users who own those accounts (visibility of contacts follows the communications). */
    owners: z.array(z.string()).max(1000),
    firstSeenAt: isoDateTime,
    lastSeenAt: isoDateTime,
  })
  .strict();
export type ContactRecord = z.infer<typeof contactRecord>;
