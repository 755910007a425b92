/**
 * Graph message → communication (pure), in Frappe's Communication format.
 */
import {
  communicationId,
  decideUpsert,
  formatAddress,
  formatAddressList,
  htmlToText,
  mapMessage,
  type MappingAccount,
} from '../../../../shared/domain/sync';
import type { CommunicationRecord } from '../../../../shared/domain/records';
import type { GraphMessageLike } from '../../../../shared/domain/ports/mail-source';

const account: MappingAccount = {
  id: 'sales inbox',
  accountName: 'Sales Inbox',
  accountType: 'User Mailbox',
  emailAddress: 'sales@contoso.example',
  user: 'jane@contoso.example',
};
const inbox = { name: 'Inbox', id: 'inbox-id' };
const sent = { name: 'Sent Items', id: 'sent-id' };
const now = new Date('2025-03-01T08:00:00Z');

const message = (fields: Partial<GraphMessageLike> = {}): GraphMessageLike => ({
  id: 'AAkALgAA/Ab+c=',
  changeKey: 'CQAAAB',
  subject: '  Quote request ',
  from: { emailAddress: { name: 'Doe, John', address: 'john@fabrikam.example' } },
  toRecipients: [
    { emailAddress: { name: 'Sales', address: 'sales@contoso.example' } },
    { emailAddress: { name: 'ann@contoso.example', address: 'ann@contoso.example' } },
    { emailAddress: { name: 'Sales again', address: 'SALES@contoso.example' } },
  ],
  ccRecipients: [{ emailAddress: { name: 'Bob "B" Lee', address: 'bob@x.example' } }],
  bccRecipients: [],
  receivedDateTime: '2025-02-28T10:00:00Z',
  sentDateTime: '2025-02-28T09:59:00Z',
  lastModifiedDateTime: '2025-02-28T10:05:00Z',
  isRead: true,
  body: { contentType: 'html', content: '<p>Hello&nbsp;there</p><p>Line&amp;2</p>' },
  internetMessageId: '<abc@fabrikam.example>',
  conversationId: 'conv-1',
  importance: 'High',
  categories: ['Blue'],
  hasAttachments: false,
  ...fields,
});

describe('addresses', () => {
  it('formats like Python formataddr (Frappe): quotes names with specials, bare address without a name', () => {
    expect(formatAddress({ emailAddress: { name: 'Ann Lee', address: 'ann@x.example' } })).toBe(
      'Ann Lee <ann@x.example>',
    );
    expect(formatAddress({ emailAddress: { name: 'Doe, John', address: 'j@x.example' } })).toBe(
      '"Doe, John" <j@x.example>',
    );
    expect(formatAddress({ emailAddress: { name: 'Bob "B"', address: 'b@x.example' } })).toBe(
      '"Bob \\"B\\"" <b@x.example>',
    );
    expect(formatAddress({ emailAddress: { name: '', address: 'c@x.example' } })).toBe('c@x.example');
    expect(formatAddress({ emailAddress: { name: 'C@X.example', address: 'c@x.example' } })).toBe('c@x.example');
    expect(formatAddress({ emailAddress: { name: 'Nobody' } })).toBeUndefined();
    expect(formatAddressList(null)).toBe('');
  });
});

describe('mapMessage', () => {
  it('maps a received message with Frappe field names', () => {
    const mapped = mapMessage(message(), account, inbox, now);
    expect(mapped).toMatchObject({
      id: communicationId('sales inbox', 'AAkALgAA/Ab+c='),
      emailAccount: 'Sales Inbox',
      accountType: 'User Mailbox',
      owner: 'jane@contoso.example',
      subject: 'Quote request',
      sender: 'john@fabrikam.example',
      senderFullName: 'Doe, John',
      recipients: 'Sales <sales@contoso.example>, ann@contoso.example',
      cc: '"Bob \\"B\\" Lee" <bob@x.example>',
      bcc: '',
      sentOrReceived: 'Received',
      communicationDate: '2025-02-28T10:00:00.000Z',
      seen: true,
      messageId: '<abc@fabrikam.example>',
      conversationId: 'conv-1',
      importance: 'high',
      categories: ['Blue'],
      folder: 'Inbox',
      folderId: 'inbox-id',
      graphMessageId: 'AAkALgAA/Ab+c=',
      changeKey: 'CQAAAB',
      lastModifiedDateTime: '2025-02-28T10:05:00.000Z',
      removedInM365: false,
      attachments: [],
    });
    expect(mapped.textContent).toBe('Hello there\n\nLine&2');
    expect(mapped.content).toBe('<p>Hello&nbsp;there</p><p>Line&amp;2</p>');
  });

  it('treats Sent Items (and mail from the mailbox itself) as Sent, dated by sentDateTime', () => {
    expect(mapMessage(message(), account, sent, now)).toMatchObject({
      sentOrReceived: 'Sent',
      communicationDate: '2025-02-28T09:59:00.000Z',
    });
    const own = message({ from: { emailAddress: { name: 'Sales', address: 'Sales@Contoso.example' } } });
    expect(mapMessage(own, account, { name: 'Inbox/Orders', id: 'o' }, now).sentOrReceived).toBe('Sent');
    expect(mapMessage(message(), account, { name: 'Archive/Sent Items', id: 's' }, now).sentOrReceived).toBe('Sent');
  });

  it('reads In-Reply-To and References when Graph returns headers', () => {
    const mapped = mapMessage(
      message({
        internetMessageHeaders: [
          { name: 'in-reply-to', value: '<parent@x>' },
          { name: 'References', value: '<root@x> <parent@x>' },
        ],
      }),
      account,
      inbox,
      now,
    );
    expect(mapped).toMatchObject({ inReplyTo: '<parent@x>', references: '<root@x> <parent@x>' });
    expect(mapMessage(message(), account, inbox, now).inReplyTo).toBeUndefined();
  });

  it('derives HTML from a text body and copes with missing fields', () => {
    const text = mapMessage(message({ body: { contentType: 'text', content: 'a < b\nnext' } }), account, inbox, now);
    expect(text.content).toBe('<div>a &lt; b<br>next</div>');
    expect(text.textContent).toBe('a < b\nnext');
    const bare = mapMessage(
      { id: 'x', receivedDateTime: null, sentDateTime: null, lastModifiedDateTime: null },
      account,
      inbox,
      now,
    );
    expect(bare).toMatchObject({
      subject: '',
      sender: '',
      recipients: '',
      seen: false,
      communicationDate: now.toISOString(),
    });
    expect(bare.importance).toBeUndefined();
    expect(
      mapMessage(message({ body: null, uniqueBody: { contentType: 'html', content: '<b>u</b>' } }), account, inbox, now)
        .textContent,
    ).toBe('u');
  });

  it('gives stable ids that are safe as Cosmos ids, per account', () => {
    const a = communicationId('sales inbox', 'AAkALgAA/Ab+c=');
    expect(a).toMatch(/^[0-9a-f]{48}$/);
    expect(communicationId('sales inbox', 'AAkALgAA/Ab+c=')).toBe(a);
    expect(communicationId('other', 'AAkALgAA/Ab+c=')).not.toBe(a);
    expect(communicationId('sales inbox', 'aakalgaa/ab+c=')).not.toBe(a); // Graph ids are case-sensitive
  });
});

describe('htmlToText', () => {
  it('drops scripts, styles and comments, keeps line structure and decodes entities', () => {
    const html =
      '<html><head><style>p{color:red}</style><title>t</title></head><body><!-- hidden --><script>alert(1)</script>' +
      '<div>Dear&#32;Ann,</div><ul><li>one</li><li>two &#x263A;</li></ul><table><tr><td>a</td><td>b</td></tr></table>' +
      'x &lt; y &unknown; 5 < 6</body></html>';
    expect(htmlToText(html)).toBe('Dear Ann,\n\n- one\n- two ☺\n\na b\n\nx < y &unknown; 5 < 6');
  });

  it('handles hostile markup in one pass (an unclosed script drops the rest; stray brackets stay text)', () => {
    // Quadratic scanning would make these take minutes (the test timeout catches that).
    expect(htmlToText('ok' + '<script>'.repeat(200_000))).toBe('ok');
    expect(htmlToText('a' + '<'.repeat(200_000)).length).toBe(200_001);
    expect(htmlToText('b' + '<!--'.repeat(100_000))).toBe('b');
  });
});

describe('decideUpsert', () => {
  const stored = (fields: Partial<CommunicationRecord> = {}): CommunicationRecord => ({
    ...mapMessage(message(), account, inbox, now),
    docType: 'communication',
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ...fields,
  });

  it('creates, skips unchanged, updates changed, moved or un-removed, and ignores older deliveries', () => {
    const mapped = mapMessage(message(), account, inbox, now);
    expect(decideUpsert(undefined, mapped)).toBe('create');
    expect(decideUpsert(stored(), mapped)).toBe('unchanged');
    expect(decideUpsert(stored({ changeKey: 'older' }), mapped)).toBe('update');
    expect(decideUpsert(stored({ folderId: 'archive', folder: 'Archive' }), mapped)).toBe('update');
    expect(decideUpsert(stored({ removedInM365: true }), mapped)).toBe('update');
    expect(decideUpsert(stored({ lastModifiedDateTime: '2025-02-28T11:00:00.000Z', changeKey: 'newer' }), mapped)).toBe(
      'stale',
    );
  });
});
